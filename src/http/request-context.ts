import type { IncomingMessage, ServerResponse } from 'node:http';
import { firstValue } from '../header-values.js';
import type { CacheStatus } from '../repos/repository.js';

/** What the access log line says about a request, filled in as it is handled. */
export interface AccessRecord {
  repo?: string;
  format?: string;
  cache?: CacheStatus;
  bytes: number;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  /** The path as the client sent it, still percent-encoded (so `%2F` can be told from `/`). */
  rawPath: string;
  /** Shelf's own URL as the client reaches it, without a trailing slash; used for links in metadata. */
  baseUrl: string;
  access: AccessRecord;
}

export interface BaseUrlOptions {
  baseUrl?: string;
  trustProxy: boolean;
}

/** The first of a comma-separated proxy header's values (the one the outermost proxy set). */
const forwarded = (req: IncomingMessage, name: string) => firstValue(req.headers[name])?.split(',')[0]?.trim();

export function createRequestContext(req: IncomingMessage, res: ServerResponse, options: BaseUrlOptions): RequestContext {
  const rawUrl = req.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  return {
    req,
    res,
    method: req.method ?? 'GET',
    url: new URL(rawUrl.startsWith('/') ? rawUrl : `/${rawUrl}`, 'http://shelf.invalid'),
    rawPath,
    baseUrl: externalBaseUrl(req, options),
    access: { bytes: 0 },
  };
}

function externalBaseUrl(req: IncomingMessage, options: BaseUrlOptions): string {
  if (options.baseUrl) return options.baseUrl.replace(/\/+$/, '');
  const proto = (options.trustProxy && forwarded(req, 'x-forwarded-proto')) || 'http';
  const host = (options.trustProxy && forwarded(req, 'x-forwarded-host')) || req.headers.host || 'localhost';
  return `${proto}://${host}`;
}
