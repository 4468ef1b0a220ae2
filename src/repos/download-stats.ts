import type { CacheTally, DownloadTally, MetadataIndex } from '../storage/metadata-index.js';
import type { Artifact } from './repository.js';

/**
 * Counts downloads, and remote repositories' cache hits and misses, in memory and writes them to the index
 * in one transaction a second, so that serving a file never waits for a database write.
 */
export class DownloadStats {
  private pending = new Map<string, DownloadTally>();
  private cache = new Map<string, CacheTally>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly index: MetadataIndex,
    flushIntervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushIntervalMs);
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
    const cache = [...this.cache.values()];
    this.pending = new Map();
    this.cache = new Map();
    await this.index.recordDownloads(tallies, cache);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
