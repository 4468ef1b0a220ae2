import type { CacheTally, DownloadTally, MetadataIndex } from '../storage/metadata-index.js';
import type { Artifact } from './repository.js';

/** Downloads written to the index per transaction (a few milliseconds of the serving loop). */
const FLUSH_BATCH = 256;

/**
 * Counts downloads, and remote repositories' cache hits and misses, in memory and writes them to the index
 * once a second, in small transactions, so that serving a file never waits for a database write.
 */
export class DownloadStats {
  private pending = new Map<string, DownloadTally>();
  private cache = new Map<string, CacheTally>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly index: MetadataIndex,
    flushIntervalMs = 1000,
  ) {
    // A failed flush is tried again with the next one.
    this.timer = setInterval(() => void this.flush().catch(() => undefined), flushIntervalMs);
    this.timer.unref();
  }

  record({ repo, path, cacheStatus }: Pick<Artifact, 'repo' | 'path' | 'cacheStatus'>): void {
    if (cacheStatus) {
      const tally = this.cache.get(repo) ?? { repo, hits: 0, misses: 0 };
      // A miss is a download from the upstream; anything answered from the cache (even revalidated) is a hit.
      if (cacheStatus === 'MISS') tally.misses += 1;
      else tally.hits += 1;
      this.cache.set(repo, tally);
    }
    const key = `${repo}\u0000${path}`;
    const tally = this.pending.get(key);
    if (tally) {
      tally.count += 1;
      tally.lastAt = Date.now();
    } else {
      this.pending.set(key, { repo, path, count: 1, lastAt: Date.now() });
    }
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const tallies = [...this.pending.values()];
    let cache = [...this.cache.values()];
    this.pending = new Map();
    this.cache = new Map();
    // Small transactions, the loop served between them: a second of HITs on many paths is many rows.
    for (let from = 0; from < tallies.length; from += FLUSH_BATCH) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        await this.index.recordDownloads(tallies.slice(from, from + FLUSH_BATCH), cache);
        cache = [];
      } catch (err) {
        // A full disk or a busy index is passing: the counts not written are kept for the next flush.
        this.keep(tallies.slice(from), cache);
        throw err;
      }
    }
  }

  private keep(tallies: DownloadTally[], cache: CacheTally[]): void {
    for (const tally of tallies) {
      this.merge(this.pending, `${tally.repo}\u0000${tally.path}`, tally, (kept) => {
        kept.count += tally.count;
        kept.lastAt = Math.max(kept.lastAt, tally.lastAt);
      });
    }
    for (const tally of cache) {
      this.merge(this.cache, tally.repo, tally, (kept) => {
        kept.hits += tally.hits;
        kept.misses += tally.misses;
      });
    }
  }

  private merge<T>(into: Map<string, T>, key: string, value: T, add: (kept: T) => void): void {
    const kept = into.get(key);
    if (kept) add(kept);
    else into.set(key, value);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
