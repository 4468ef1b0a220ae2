import { ShelfError } from '../errors.js';
import type { RequestContext } from './request-context.js';

export function sendJson(ctx: RequestContext, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  ctx.res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
  ctx.access.bytes += Buffer.byteLength(text);
}

export function sendText(ctx: RequestContext, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  ctx.res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
  ctx.access.bytes += Buffer.byteLength(text);
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
