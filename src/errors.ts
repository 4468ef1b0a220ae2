/**
 * An error that knows what it means to a client: a stable code, an HTTP status and a message safe to show.
 * Each protocol maps these to its own error body in one place (see http/errors.ts).
 */
export class ShelfError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ShelfError';
  }
}

const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * An error the client should hear about plainly rather than as "internal error": a full disk (or quota, or
 * a full index database) is 507 Insufficient Storage. Writes clean up after themselves, so nothing is stored.
 */
export function asClientError(err: unknown): unknown {
  if (err instanceof ShelfError || !OUT_OF_SPACE.has((err as { code?: string } | undefined)?.code ?? '')) return err;
  return new ShelfError('INSUFFICIENT_STORAGE', 507, 'Shelf is out of disk space; nothing was stored. An administrator must free space.');
}

export const notFound = (what: string) => new ShelfError('NOT_FOUND', 404, `${what} not found`);
export const badRequest = (message: string) => new ShelfError('BAD_REQUEST', 400, message);
export const forbidden = (message: string) => new ShelfError('FORBIDDEN', 403, message);
export const conflict = (message: string) => new ShelfError('CONFLICT', 409, message);
export const methodNotAllowed = (method: string, allowed: string[]) =>
  new ShelfError('METHOD_NOT_ALLOWED', 405, `${method} is not allowed here`, { allow: allowed.join(', ') });

/** The message in an error body another Shelf (or a registry) sent, whatever its format (Shelf's, Docker's, npm's); else the text. */
export function messageOfErrorBody(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: string; error?: string; errors?: { message?: string }[] };
    return body.errors?.[0]?.message ?? body.message ?? body.error ?? text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}
