import { LRUCache } from 'lru-cache';

/**
 * The bytes of small blobs that were read whole and hashed right, kept in memory so that a hot file is
 * answered without four trips to the disk (stat, open, read, close) and without hashing it again: what
 * is served from here is exactly what was verified. Bounded by bytes, least recently served first out.
 */
export class VerifiedBlobCache {
  private readonly entries: LRUCache<string, Buffer> | undefined;

  /** `maxBytes` 0 keeps nothing. */
  constructor(maxBytes: number) {
    if (maxBytes > 0) this.entries = new LRUCache({ maxSize: maxBytes, sizeCalculation: (bytes) => bytes.length || 1 });
  }

  get(sha256: string): Buffer | undefined {
    return this.entries?.get(sha256);
  }

  has(sha256: string): boolean {
    return this.entries?.has(sha256) ?? false;
  }

  /** Only bytes whose sha256 was just computed and compared may be given here. */
  remember(sha256: string, verified: Buffer): void {
    this.entries?.set(sha256, verified);
  }

  forget(sha256: string): void {
    this.entries?.delete(sha256);
  }
}

/** Smaller files are not tracked: hashing them again costs little, and sending them from memory less. */
export const TRUST_MIN_BYTES = 64 * 1024;

/**
 * Blobs this process read whole and found to hash right, by the identity of what was read: for a file, its
 * device, inode, size, modification and change times in nanoseconds (any write to a file, or a file put in
 * its place, changes that identity, and the change time cannot be set back); for an S3 object, its ETag and
 * modification time. A blob whose identity is unchanged since it was verified, less than `trustSeconds`
 * ago, is streamed without hashing it again. What this leaves to `shelf storage verify` is damage below the
 * filesystem (a failing disk) or inside the object store.
 */
export class RecentlyVerifiedFiles {
  private readonly files: LRUCache<string, string> | undefined;

  /** `trustSeconds` 0 trusts nothing: every whole read is hashed. */
  constructor(trustSeconds: number) {
    if (trustSeconds > 0) this.files = new LRUCache({ max: 100_000, ttl: trustSeconds * 1000, ttlAutopurge: false });
  }

  /** Whether anything is trusted: otherwise nobody need work out a blob's identity. */
  get enabled(): boolean {
    return this.files !== undefined;
  }

  isTrusted(sha256: string, identity: string | undefined): boolean {
    return identity !== undefined && this.files?.get(sha256) === identity;
  }

  /** Called once the file with `identity` was read whole and hashed to `sha256`. */
  verified(sha256: string, identity: string | undefined): void {
    if (identity !== undefined) this.files?.set(sha256, identity);
  }

  forget(sha256: string): void {
    this.files?.delete(sha256);
  }
}
