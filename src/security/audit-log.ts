import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

const TAIL_BYTES = 1024 * 1024;

/** One line of the audit log: who did (or tried) what, where, from which address, and how it ended. */
export interface AuditEvent {
  event: string;
  user: string | null;
  address?: string;
  repo?: string;
  path?: string;
  result: 'ok' | 'failed' | 'throttled' | number;
  [detail: string]: unknown;
}

/**
 * The audit trail, as JSON lines in a file of its own (not the request log): logins, token changes,
 * writes, deletes, promotions and permission changes. It records names and ids, never secrets. The file
 * is opened for appending, so the cluster's workers add whole lines to one file; `reopen` starts writing to
 * the file at that path again after logrotate moved it away.
 */
export class AuditLog {
  private out: WriteStream;

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.out = this.open();
  }

  private open(): WriteStream {
    return createWriteStream(this.file, { flags: 'a', mode: 0o640 });
  }

  record(event: AuditEvent): void {
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  }

  /**
   * The last `limit` events, newest first, from the file's last MiB (what the system page shows; the file
   * itself, and what logrotate keeps, is the record).
   */
  async recent(limit: number): Promise<AuditEvent[]> {
    const file = await open(this.file, 'r').catch(() => undefined);
    if (!file) return [];
    try {
      const { size } = await file.stat();
      const length = Math.min(size, TAIL_BYTES);
      const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n');
      if (length < size) lines.shift(); // the first line is cut
      const events: AuditEvent[] = [];
      for (let i = lines.length - 1; i >= 0 && events.length < limit; i--) {
        try {
          if (lines[i]) events.push(JSON.parse(lines[i]!) as AuditEvent);
        } catch {
          // a line being written
        }
      }
      return events;
    } finally {
      await file.close();
    }
  }

  /** Lines already written go to the old file (now rotated); the next ones to a new file at the path. */
  reopen(): void {
    const old = this.out;
    this.out = this.open();
    old.end();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
