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
