import { createHash, type Hash } from 'node:crypto';

export const CHECKSUM_ALGORITHMS = ['sha256', 'sha1', 'md5', 'sha512'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Lower-case hex digests of one piece of content. */
export type Checksums = Record<ChecksumAlgorithm, string>;

/** The digests besides sha256, when a signed source vouches for them (see MultiHasher). */
export type OtherDigests = Omit<Checksums, 'sha256'>;

/** Digests of stored content: sha256 always; the others unless they are computed after it is stored. */
export type StoredDigests = { sha256: string } & Partial<OtherDigests>;

/**
 * Hashes content with every algorithm the formats need in one pass over the bytes; given the other
 * digests from a source that vouches for them, only sha256 (the one the content is verified by).
 */
export class MultiHasher {
  private readonly sha256 = createHash('sha256');
  /** sha1, md5 and sha512, while they are computed here. */
  private others: Hash[] | undefined;
  /** The other digests are computed once the content is stored (see DeferredDigests). */
  private othersLater = false;
  size = 0;

  constructor(private readonly known?: OtherDigests) {
    if (!known) this.others = OTHER_ALGORITHMS.map((alg) => createHash(alg));
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.sha256.update(chunk);
    for (const hash of this.others ?? []) hash.update(chunk);
  }

  /** Whether the other digests are still computed here (neither known, nor handed off, nor left for later). */
  get computesOthers(): boolean {
    return this.others !== undefined;
  }

  /** From now on the other digests are computed elsewhere, over all the bytes; digest() must be given them. */
  handOffOthers(): void {
    this.others = undefined;
  }

  /** The other digests are not computed here: digest() gives sha256 only. */
  leaveOthersForLater(): void {
    this.others = undefined;
    this.othersLater = true;
  }

  digest(computedElsewhere?: OtherDigests): StoredDigests {
    const sha256 = this.sha256.digest('hex');
    if (this.others) {
      const [sha1, md5, sha512] = this.others.map((h) => h.digest('hex')) as [string, string, string];
      return { sha256, sha1, md5, sha512 };
    }
    const others = this.known ?? computedElsewhere;
    if (others) return { sha256, ...others };
    if (this.othersLater) return { sha256 };
    throw new Error('the other digests were handed off and not given back');
  }
}

const OTHER_ALGORITHMS = ['sha1', 'md5', 'sha512'] as const;

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { sha256: 64, sha1: 40, md5: 32, sha512: 128 };

export function isHexDigest(alg: ChecksumAlgorithm, value: string): boolean {
  return value.length === HEX_LENGTH[alg] && /^[0-9a-f]+$/.test(value);
}

/** The first algorithm whose expected value differs from the actual one, if any. */
export function findMismatch(actual: StoredDigests, expected: Partial<Checksums>): ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((alg) => expected[alg] !== undefined && expected[alg]!.toLowerCase() !== actual[alg]);
}
