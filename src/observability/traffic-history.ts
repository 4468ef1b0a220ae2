import type { CacheStatus } from '../repos/repository.js';
import type { MetadataIndex, TrafficMinute } from '../storage/metadata-index.js';

/** How long the per-minute counts are kept. */
const KEEP_MINUTES = 24 * 60;
const FLUSH_INTERVAL_MS = 5000;

const noTraffic = (minute: number): TrafficMinute => ({ minute, requests: 0, errors: 0, cacheHits: 0, cacheMisses: 0 });

/**
 * Requests and cache results per minute, for the system page's chart: counted in memory as requests end and
 * added to the index every few seconds, so every process (and, with a shared index, every node) adds to the
 * same minutes. Prometheus keeps the detailed series; this is the last day at a glance.
 */
export class TrafficHistory {
  private pending = new Map<number, TrafficMinute>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly index: MetadataIndex) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), FLUSH_INTERVAL_MS).unref();
  }

  record(status: number, cache: CacheStatus | undefined): void {
    const minute = Math.floor(Date.now() / 60_000);
    let counts = this.pending.get(minute);
    if (!counts) this.pending.set(minute, (counts = noTraffic(minute)));
    counts.requests += 1;
    if (status >= 500) counts.errors += 1;
    if (cache === 'MISS') counts.cacheMisses += 1;
    else if (cache !== undefined) counts.cacheHits += 1;
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const minutes = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.index.recordTraffic(minutes, Math.floor(Date.now() / 60_000) - KEEP_MINUTES);
    } catch (err) {
      // Kept for the next flush (a busy or full index is passing).
      for (const m of minutes) {
        const kept = this.pending.get(m.minute);
        if (!kept) this.pending.set(m.minute, m);
        else for (const key of ['requests', 'errors', 'cacheHits', 'cacheMisses'] as const) kept[key] += m[key];
      }
      throw err;
    }
  }

  /** The last `minutes` minutes, oldest first, with the minutes without requests as zeros. */
  async recent(minutes: number): Promise<TrafficMinute[]> {
    const now = Math.floor(Date.now() / 60_000);
    const since = now - minutes + 1;
    const stored = new Map((await this.index.traffic(since)).map((m) => [m.minute, m]));
    return Array.from({ length: minutes }, (_, i) => stored.get(since + i) ?? noTraffic(since + i));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
  }
}
