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

/** A refused upload's body up to this size is read to its end and dropped, keeping the connection. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;
/** How long a larger refused body is still read and dropped after the answer (nginx's lingering close). */
const LINGER_MS = 30_000;

/**
 * For an error answered before the request's body was read to its end (a refused or failed upload): the
 * rest of the body is read and dropped, so a client that is still sending gets to read the answer, and the
 * connection does not take the leftover bytes for its next request. Closing at once instead would reset the
 * connection, and a reset discards the answer before a client busy sending has read it.
 */
export function dropUnreadBody(ctx: RequestContext): void {
  const { req, res } = ctx;
  if (req.complete || req.destroyed) return;
  req.resume();
  // (`complete` is not yet set while a request without a body is handled synchronously.)
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && Number(req.headers['content-length'] ?? 0) <= DRAIN_LIMIT_BYTES) return;
  // Too much to read through: once the answer is out, half-close (no further request is taken) and keep
  // dropping what arrives until the client stops sending, for a bounded time.
  res.once('finish', () => {
    const socket = req.socket;
    socket.end();
    const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(linger));
  });
}

/** The error body of Shelf's own endpoints and of formats without an error format of their own. */
export function sendError(ctx: RequestContext, err: unknown): void {
  const error =
    err instanceof ShelfError ? err : new ShelfError('INTERNAL_ERROR', 500, 'internal error; see the server log');
  if (ctx.res.headersSent) {
    ctx.res.destroy(err as Error);
    return;
  }
  sendJson(ctx, error.status, { errors: [{ status: error.status, code: error.code, message: error.message }] }, challengeFor(ctx, error.headers));
}

/**
 * A page's own script (the web UI marks its calls with `X-Requested-With: XMLHttpRequest`) gets its 401
 * without the Basic challenge: a browser answers a challenge with its own login dialog, over the page.
 */
function challengeFor(ctx: RequestContext, headers: Record<string, string>): Record<string, string> {
  if (ctx.req.headers['x-requested-with'] !== 'XMLHttpRequest' || !('www-authenticate' in headers)) return headers;
  const { 'www-authenticate': _challenge, ...rest } = headers;
  return rest;
}
