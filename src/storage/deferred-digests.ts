import type { Logger } from 'pino';
import type { WorkerPool } from '../workers/pool.js';
import { MissingBlobError, type BlobStore } from './blob-store.js';
import { CHECKSUM_ALGORITHMS } from './checksums.js';
import type { MetadataIndex } from './metadata-index.js';

/** Blobs still waiting are taken up after a restart this many at a time. */
const RESUME_PAGE = 256;

/**
 * The sha1, md5 and sha512 of blobs stored with sha256 only (BlobWriteOptions.otherDigestsLater: a Docker
 * layer's client waits for nothing but its bytes and their sha256), computed after they are stored, one blob
 * at a time per process, in a thread that reads the stored file. The file is checked by its sha256 in the
 * same pass: a damaged one is quarantined instead of having digests of the damage recorded. Until then the
 * index has no such digests for the blob (a checksum search does not find it; answers carry no
 * X-Checksum-Sha1). Blobs left waiting when a process stopped are taken up when one starts (resume).
 */
export class DeferredDigests {
  private readonly queued = new Set<string>();
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly blobs: BlobStore,
    private readonly index: MetadataIndex,
    /** Threads apart from those that build metadata: a large layer keeps one busy for seconds. */
    private readonly threads: Pick<WorkerPool, 'hashFile'>,
    private readonly log: Logger,
  ) {}

  /** Queues a blob whose index entry was just written without its other digests. */
  add(sha256: string): void {
    if (this.stopped) return;
    this.queued.add(sha256);
    this.running ??= this.drain();
  }

  /** Works through the blobs the index still has without their other digests (a stopped process's), a page at a time. */
  async resume(): Promise<void> {
    let after = '';
    while (!this.stopped) {
      const page = await this.index.blobsAwaitingDigests(after, RESUME_PAGE);
      for (const sha256 of page) this.add(sha256);
      await this.idle();
      if (page.length < RESUME_PAGE) return;
      after = page.at(-1)!;
    }
  }

  /** Resolves once nothing is queued (tests; a clean stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** At shutdown: what is still queued is left to the next start (see resume). */
  stop(): void {
    this.stopped = true;
    this.queued.clear();
  }

  private async drain(): Promise<void> {
    try {
      for (const sha256 of this.queued) {
        this.queued.delete(sha256);
        await this.fill(sha256).catch((err: unknown) => {
          if (!this.stopped) this.log.warn({ err, sha256 }, 'could not compute the other digests of a blob');
        });
      }
    } finally {
      this.running = undefined;
    }
  }

  private async fill(sha256: string): Promise<void> {
    const result = await this.blobs.withLocalFile(sha256, (path) => this.threads.hashFile(path, [...CHECKSUM_ALGORITHMS])).catch((err: unknown) => {
      // Collected meanwhile (its index entry went with it), or lost: `shelf storage verify` reports that.
      if (err instanceof MissingBlobError) return undefined;
      throw err;
    });
    if (!result) return;
    const { sha256: actual, sha1, md5, sha512 } = result.digests;
    if (actual !== sha256) {
      this.log.error({ sha256, actual }, 'a blob was damaged on disk before its other digests were computed; quarantined');
      await this.blobs.quarantine(sha256);
      return;
    }
    await this.index.setOtherDigests(sha256, { sha1: sha1!, md5: md5!, sha512: sha512! });
  }
}
