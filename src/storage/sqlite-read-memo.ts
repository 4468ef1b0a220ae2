import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';

/**
 * Answers to the point reads every request makes (a path's record, the security revision), kept for as
 * long as the database is unchanged. A read transaction costs SQLite a few microseconds however little it
 * reads, as much as the rest of a cache HIT; so whether anything changed is asked once per event-loop turn
 * (`data_version` moves when another connection commits, `total_changes()` when this one writes), and every
 * write through this connection makes everything read before it stale at once. A change committed
 * elsewhere is thus seen from the next turn of the loop on, a change made here immediately.
 */
export class SqliteReadMemo {
  private readonly rows = new LRUCache<string, { row: unknown; generation: number }>({ max: 10_000 });
  /** Moves at every change: rows read before it are stale (and age out of the LRU). */
  private generation = 0;
  private readonly changeStamp: Database.Statement;
  private stamp: string | undefined;
  private checkedThisTurn = false;

  constructor(db: Database.Database) {
    this.changeStamp = db.prepare('SELECT data_version AS version, total_changes() AS changes FROM pragma_data_version');
  }

  /** `read()`'s result for `key`, from memory while the database is unchanged since it was read. */
  get<T>(key: string, read: () => T): T {
    this.forgetIfChanged();
    const kept = this.rows.get(key);
    if (kept?.generation === this.generation) return kept.row as T;
    const row = read();
    this.rows.set(key, { row, generation: this.generation });
    return row;
  }

  /** This connection is about to write. */
  writing(): void {
    this.generation++;
    this.checkedThisTurn = false;
  }

  private forgetIfChanged(): void {
    if (this.checkedThisTurn) return;
    const { version, changes } = this.changeStamp.get() as { version: number; changes: number };
    const stamp = `${version}:${changes}`;
    if (stamp !== this.stamp) {
      this.generation++;
      this.stamp = stamp;
    }
    this.checkedThisTurn = true;
    setImmediate(() => (this.checkedThisTurn = false));
  }
}
