import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

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
 * writes, deletes, promotions and permission changes. It records names and ids, never secrets.
 */
export class AuditLog {
  private readonly log: Logger;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.log = pino(
      { base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'event', formatters: { level: () => ({}) } },
      pino.destination({ dest: file, append: true, mkdir: true, sync: false }),
    );
  }

  record({ event, ...fields }: AuditEvent): void {
    this.log.info(fields, event);
  }

  flush(): void {
    this.log.flush();
  }
}
