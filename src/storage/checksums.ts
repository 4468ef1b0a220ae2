import { createHash, type Hash } from 'node:crypto';

export const CHECKSUM_ALGORITHMS = ['sha256', 'sha1', 'md5', 'sha512'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Lower-case hex digests of one piece of content. */
export type Checksums = Record<ChecksumAlgorithm, string>;

/** The digests besides sha256, when a signed source vouches for them (see MultiHasher). */
export type OtherDigests = Omit<Checksums, 'sha256'>;

/**
 * Hashes content with every algorithm the formats need in one pass over the bytes; given the other
 * digests from a source that vouches for them, only sha256 (the one the content is verified by).
 */
export class MultiHasher {
  private readonly hashes: Hash[];
  size = 0;

  constructor(private readonly known?: OtherDigests) {
    this.hashes = (known ? (['sha256'] as const) : CHECKSUM_ALGORITHMS).map((alg) => createHash(alg));
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    for (const hash of this.hashes) hash.update(chunk);
  }

  digest(): Checksums {
    if (this.known) return { sha256: this.hashes[0]!.digest('hex'), ...this.known };
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
