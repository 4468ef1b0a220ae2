import type { DownloadTally, MetadataIndex } from '../storage/metadata-index.js';

/**
 * Counts downloads in memory and writes them to the index in one transaction a second, so that serving
 * a file never waits for a database write.
 */
export class DownloadStats {
  private pending = new Map<string, DownloadTally>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly index: MetadataIndex,
    flushIntervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushIntervalMs);
    this.timer.unref();
  }

  record(repo: string, path: string): void {
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
    this.pending = new Map();
    await this.index.recordDownloads(tallies);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
