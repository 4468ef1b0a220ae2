import pg from 'pg';
import { ShelfError } from '../errors.js';

/** BIGINT columns hold epoch milliseconds and byte counts, all well inside a double's exact range. */
const INT8_OID = 20;
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Errors that mean the database cannot be reached or is going away, not that the statement was wrong. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '25006']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE']);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  const message = (err as Error).message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/.test(message);
}

/** What a request that needs the index gets while the database is away: a clear 503, to retry. */
export function unavailable(err: unknown): ShelfError {
  return new ShelfError('INDEX_UNAVAILABLE', 503, `the metadata database is unavailable (${(err as Error).message}); retry shortly`, {
    'Retry-After': '5',
  });
}

/** A database error as callers should see it: unavailability as a 503, anything else as it is. */
export const asIndexError = (err: unknown): unknown => (isUnavailable(err) ? unavailable(err) : err);
