import { createHash, type Hash } from 'node:crypto';

export const CHECKSUM_ALGORITHMS = ['sha256', 'sha1', 'md5', 'sha512'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Lower-case hex digests of one piece of content. */
export type Checksums = Record<ChecksumAlgorithm, string>;

/** Hashes content with every algorithm the formats need in one pass over the bytes. */
export class MultiHasher {
  private readonly hashes: Hash[] = CHECKSUM_ALGORITHMS.map((alg) => createHash(alg));
  size = 0;

  update(chunk: Buffer): void {
    this.size += chunk.length;
    for (const hash of this.hashes) hash.update(chunk);
  }

  digest(): Checksums {
    const [sha256, sha1, md5, sha512] = this.hashes.map((h) => h.digest('hex')) as [string, string, string, string];
    return { sha256, sha1, md5, sha512 };
  }
}

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { sha256: 64, sha1: 40, md5: 32, sha512: 128 };

export function isHexDigest(alg: ChecksumAlgorithm, value: string): boolean {
  return value.length === HEX_LENGTH[alg] && /^[0-9a-f]+$/.test(value);
}

/** The first algorithm whose expected value differs from the actual one, if any. */
export function findMismatch(actual: Checksums, expected: Partial<Checksums>): ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((alg) => expected[alg] !== undefined && expected[alg]!.toLowerCase() !== actual[alg]);
}
