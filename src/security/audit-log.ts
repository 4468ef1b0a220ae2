import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

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
 * is opened for appending, so the cluster's workers add whole lines to one file.
 */
export class AuditLog {
  private readonly out: WriteStream;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.out = createWriteStream(file, { flags: 'a', mode: 0o640 });
  }

  record(event: AuditEvent): void {
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
