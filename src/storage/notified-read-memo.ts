import { LRUCache } from 'lru-cache';

/** How long a kept row may miss changes that are not announced (another process's download counts). */
export const UNANNOUNCED_LAG_MS = 5000;

/**
 * Answers to the point reads every request makes (a path's record), kept while nothing has changed: the
 * PostgreSQL index's counterpart of SqliteReadMemo. A query costs a round trip to the database, more than
 * the rest of a cache HIT; so rows are kept until a change is announced. A change made through this
 * process makes everything read before it stale at once; one made elsewhere (another worker, another
 * node) arrives as a notification a moment after its commit. Without notifications (the listening
 * connection lost) nothing is kept. Download counts are not announced (every worker flushes them every
 * second): another process's counts show once the row is read again, within UNANNOUNCED_LAG_MS.
 */
export class NotifiedReadMemo {
  // Changes that are not announced (download counts) show within the rows' time to live.
  private readonly rows = new LRUCache<string, { row: unknown; generation: number }>({ max: 10_000, ttl: UNANNOUNCED_LAG_MS });
  /** Moves at every change: rows read before it are stale (and age out of the LRU). */
  private generation = 0;
  private listening = false;

  /** `read()`'s result for `key`, from memory while nothing has changed since it was read. */
  async get<T>(key: string, read: () => Promise<T>): Promise<T> {
    if (!this.listening) return read();
    const kept = this.rows.get(key);
    if (kept?.generation === this.generation) return kept.row as T;
    // A change during the read leaves the row stale: it is kept under the generation the read began in.
    const generation = this.generation;
    const row = await read();
    this.rows.set(key, { row, generation });
    return row;
  }

  /** A change to one row only, made here. */
  forget(key: string): void {
    this.rows.delete(key);
  }

  /** Something changed (here, or as announced from elsewhere). */
  changed(): void {
    this.generation++;
  }

  /** Whether changes elsewhere are being announced; while not, every read goes to the database. */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.generation++;
  }
}
