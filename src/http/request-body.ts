import { ShelfError } from '../errors.js';
import { checksumHeaders } from '../header-values.js';
import { TooLargeError } from '../storage/blob-store.js';
import type { Checksums } from '../storage/checksums.js';
import type { RequestContext } from './request-context.js';

/**
 * The request body as chunks, refused up front when its declared length exceeds the limit (the blob
 * writer enforces the same limit on bodies without a Content-Length).
 */
export function requestBody(ctx: RequestContext, maxBytes: number): AsyncIterable<Buffer> {
  const declared = ctx.req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new ShelfError('TOO_LARGE', 413, `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  // A reader that stops early (a body over the limit) leaves the request open, so that the rest of the
  // body can be dropped and the client reads the refusal (see dropUnreadBody).
  return { [Symbol.asyncIterator]: () => ctx.req.iterator({ destroyOnReturn: false }) };
}

/** The request's body, also a chunked one, up to `maxBytes`: past it the iteration throws TooLargeError (413). */
export const boundedRequestBody = (ctx: RequestContext, maxBytes: number) => atMost(requestBody(ctx, maxBytes), maxBytes);

/** The chunks of `source` up to `maxBytes` in all; past it the iteration throws TooLargeError (413). */
async function* atMost(source: AsyncIterable<Buffer> | Iterable<Buffer>, maxBytes: number): AsyncIterable<Buffer> {
  let size = 0;
  // Leaving the loop early (too large) destroys a stream source.
  for await (const chunk of source) {
    size += chunk.length;
    if (size > maxBytes) throw new TooLargeError(maxBytes);
    yield chunk;
  }
}

/** Checksums a deploying client declares (X-Checksum-Sha256, -Sha1, -Md5, as Artifactory's clients send). */
export function declaredChecksums(ctx: RequestContext): Partial<Checksums> {
  const { declared, malformed } = checksumHeaders(ctx.req.headers);
  const [alg] = malformed;
  if (alg) throw new ShelfError('BAD_REQUEST', 400, `X-Checksum-${alg} is not a ${alg} hex digest`);
  return declared;
}

/** Collects a small body (a request's, or a stored document's) into memory; more than `maxBytes` is refused. */
export async function readAll(source: AsyncIterable<Buffer> | Iterable<Buffer>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of atMost(source, maxBytes)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A small JSON request body (API calls), parsed; refused with 400 when it is not JSON. */
export async function readJsonBody(ctx: RequestContext, maxBytes = 1024 * 1024): Promise<unknown> {
  const body = await readAll(requestBody(ctx, maxBytes), maxBytes);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ShelfError('BAD_REQUEST', 400, 'request body is not valid JSON');
  }
}
