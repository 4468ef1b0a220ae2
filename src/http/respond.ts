import { ShelfError } from '../errors.js';
import type { RequestContext } from './request-context.js';

/** A complete body held in memory (JSON, metadata documents, manifests). */
export function sendText(
  ctx: RequestContext,
  status: number,
  text: string | Buffer,
  contentType = 'text/plain; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  const length = Buffer.byteLength(text);
  ctx.res.writeHead(status, { 'content-type': contentType, 'content-length': length, ...headers });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
  ctx.access.bytes += length;
}

export function sendJson(ctx: RequestContext, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(ctx, status, `${JSON.stringify(body, null, 2)}\n`, 'application/json; charset=utf-8', headers);
}

/** How much of a refused upload's body is read and dropped before the connection is closed instead. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * For an error answered before the request's body was read to its end (a refused or failed upload): the
 * rest of the body is read and dropped, so a client that is still sending gets to read the answer, and the
 * connection does not take the leftover bytes for its next request. A large rest closes the connection.
 */
export function dropUnreadBody(ctx: RequestContext): void {
  const { req, res } = ctx;
  if (req.complete) return;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (req.destroyed || declared > DRAIN_LIMIT_BYTES) {
    if (!res.headersSent) res.setHeader('connection', 'close');
    return;
  }
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) req.socket.destroy();
  });
  req.resume();
}

/** The error body of Shelf's own endpoints and of formats without an error format of their own. */
export function sendError(ctx: RequestContext, err: unknown): void {
  const error =
    err instanceof ShelfError ? err : new ShelfError('INTERNAL_ERROR', 500, 'internal error; see the server log');
  if (ctx.res.headersSent) {
    ctx.res.destroy(err as Error);
    return;
  }
  sendJson(ctx, error.status, { errors: [{ status: error.status, code: error.code, message: error.message }] }, error.headers);
}
