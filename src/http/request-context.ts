import type { IncomingMessage, ServerResponse } from 'node:http';
import { methodNotAllowed } from '../errors.js';
import { firstValue } from '../header-values.js';
import type { CacheStatus } from '../repos/repository.js';
import type { Action, Principal } from '../security/permissions.js';

/** What the access log line (and, for changes, the audit log) says about a request, filled in as it is handled. */
export interface AccessRecord {
  repo?: string;
  format?: string;
  cache?: CacheStatus;
  bytes: number;
  /** The path as logged, when the request's own carries a secret (npm logout names the token). */
  path?: string;
  /** The caller, once authenticated (null: anonymous). */
  user?: string | null;
  /** The credential the caller presented, when it was a token (see security/permissions.ts credentialOf). */
  credential?: string;
  /** The change the request asked permission for (anything but `read`), and where. */
  change?: { action: Action; repo: string; subject?: string };
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
  /** The client's address (with `trustProxy`, the address the proxy saw: the right-most `X-Forwarded-For`). */
  clientAddress: string;
  access: AccessRecord;
  /** A registry API request (/v2/): the only place where a token-service token is accepted. */
  registryApi?: boolean;
  /** Who is calling; resolved once per request by security/access-control.ts. */
  principal?: Promise<Principal>;
  /** Where the front nginx serves the blob directory, when this request came through it (see send-artifact.ts). */
  xAccelLocation?: string;
}

export interface RequestContextOptions {
  baseUrl?: string;
  trustProxy: boolean;
  xAccelLocation?: string;
}

/** The first of a comma-separated proxy header's values (the one the outermost proxy set). */
const forwarded = (req: IncomingMessage, name: string) => firstValue(req.headers[name])?.split(',')[0]?.trim();

/**
 * The client as the trusted proxy saw it: the right-most `X-Forwarded-For` value, the one that proxy
 * appended. Values left of it came from the client and may be forged.
 */
const lastHop = (req: IncomingMessage) => firstValue(req.headers['x-forwarded-for'])?.split(',').at(-1)?.trim();

export function createRequestContext(req: IncomingMessage, res: ServerResponse, options: RequestContextOptions): RequestContext {
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
    clientAddress: (options.trustProxy && lastHop(req)) || req.socket.remoteAddress || 'unknown',
    access: { bytes: 0 },
    xAccelLocation: options.xAccelLocation && req.headers['x-sendfile-type'] === 'X-Accel-Redirect' ? options.xAccelLocation : undefined,
  };
}

function externalBaseUrl(req: IncomingMessage, options: RequestContextOptions): string {
  if (options.baseUrl) return options.baseUrl.replace(/\/+$/, '');
  const proto = (options.trustProxy && forwarded(req, 'x-forwarded-proto')) || ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = (options.trustProxy && forwarded(req, 'x-forwarded-host')) || req.headers.host || 'localhost';
  return `${proto}://${host}`;
}

/** Refuses (405, naming the allowed ones) a method the endpoint does not take. */
export function allowMethods(ctx: RequestContext, methods: string[]): void {
  if (!methods.includes(ctx.method)) throw methodNotAllowed(ctx.method, methods);
}
