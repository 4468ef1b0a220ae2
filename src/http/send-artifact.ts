import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Artifact } from '../repos/repository.js';
import { parseRange } from './range.js';
import type { RequestContext } from './request-context.js';

/** The ETag of stored content is its digest, so it is the same in every repository that holds it. */
export const etagOf = (sha256: string) => `"sha256:${sha256}"`;

/** Whether an If-None-Match / If-Match header names `etag` (or `*`), weak tags included. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  // Weak comparison (RFC 9110 13.1.2): W/ does not matter on either side.
  const wanted = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === '*' || t === wanted;
  });
}

export function artifactHeaders(artifact: Artifact): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': artifact.contentType, 'accept-ranges': 'bytes' };
  const checksums = artifact.checksums ?? artifact.expectedChecksums;
  if (checksums?.sha256) {
    headers.etag = etagOf(checksums.sha256);
    headers['x-checksum-sha256'] = checksums.sha256;
  }
  if (checksums?.sha1) headers['x-checksum-sha1'] = checksums.sha1;
  if (checksums?.md5) headers['x-checksum-md5'] = checksums.md5;
  if (artifact.lastModified !== undefined) headers['last-modified'] = new Date(artifact.lastModified).toUTCString();
  if (artifact.cacheStatus) headers['x-shelf-cache'] = artifact.cacheStatus;
  if (artifact.cacheStatus === 'STALE') headers.warning = '110 shelf "Response is Stale"';
  return headers;
}

export interface SendOptions {
  headers?: Record<string, string>;
  /** Called once the body starts: the moment a download counts. */
  onDownload?: () => void;
}

/** Answers GET/HEAD for a file: conditional requests, a single byte range, then the bytes as a stream. */
export async function sendArtifact(ctx: RequestContext, artifact: Artifact, options: SendOptions = {}) {
  const { req, res } = ctx;
  ctx.access.cache = artifact.cacheStatus;
  const headers = { ...artifactHeaders(artifact), ...options.headers };

  if (isNotModified(ctx, artifact, headers.etag)) {
    res.writeHead(304, withoutBodyHeaders(headers));
    res.end();
    return;
  }

  let status = 200;
  let range;
  if (artifact.size !== undefined) {
    const ifRange = req.headers['if-range'];
    const rangeApplies = ifRange === undefined || ifRange === headers.etag;
    const parsed = rangeApplies ? parseRange(req.headers.range, artifact.size) : undefined;
    if (parsed === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${artifact.size}`, 'content-length': 0 });
      res.end();
      return;
    }
    range = parsed;
    if (range) {
      status = 206;
      headers['content-range'] = `bytes ${range.start}-${range.end}/${artifact.size}`;
      headers['content-length'] = String(range.end - range.start + 1);
    } else {
      headers['content-length'] = String(artifact.size);
    }
  }

  if (ctx.method === 'HEAD') {
    await artifact.check?.();
    res.writeHead(status, headers);
    res.end();
    return;
  }
  if (ctx.xAccelLocation && (await handOffToFront(ctx, ctx.xAccelLocation, artifact, headers, options))) return;
  if (artifact.read) {
    const bytes = await artifact.read(range);
    res.writeHead(status, headers);
    options.onDownload?.();
    ctx.access.bytes += bytes.length;
    res.end(bytes);
    return;
  }
  const body = await artifact.open(range);
  res.writeHead(status, headers);
  // A miss streams at the upstream's pace: send the status line now so the client sees progress at once.
  if (artifact.checksums === undefined) res.flushHeaders();
  options.onDownload?.();
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      ctx.access.bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(body, count, res);
}

/**
 * Lets the front nginx send a verified file with sendfile: an empty answer naming the file. nginx keeps
 * the content type and answers the request's range itself; the headers it would drop are listed in the
 * site that `shelf service nginx-front` writes.
 */
async function handOffToFront(ctx: RequestContext, location: string, artifact: Artifact, headers: Record<string, string>, options: SendOptions): Promise<boolean> {
  const file = await artifact.trustedFile?.();
  if (!file) return false;
  const { 'content-range': _range, ...rest } = headers;
  ctx.res.writeHead(200, { ...rest, 'x-accel-redirect': `${location}${file}`, 'content-length': 0 });
  ctx.res.end();
  options.onDownload?.();
  ctx.access.bytes += Number(headers['content-length']);
  return true;
}

function isNotModified(ctx: RequestContext, artifact: Artifact, etag: string | undefined): boolean {
  const ifNoneMatch = ctx.req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) return etag !== undefined && etagMatches(ifNoneMatch, etag);
  const ifModifiedSince = ctx.req.headers['if-modified-since'];
  if (ifModifiedSince === undefined || artifact.lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Math.floor(artifact.lastModified / 1000) * 1000 <= since;
}

function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  const { 'content-type': _type, 'content-length': _length, ...rest } = headers;
  return rest;
}
