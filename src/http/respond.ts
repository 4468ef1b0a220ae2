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

/**
 * An error answered before the request's body was read to its end (a refused or failed upload) closes the
 * connection after it: the unread rest of the body would otherwise be taken for the next request.
 */
export function closeIfBodyUnread(ctx: RequestContext): void {
  if (!ctx.req.complete && !ctx.res.headersSent) ctx.res.setHeader('connection', 'close');
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
