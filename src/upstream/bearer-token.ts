import { createCache, type Cache } from 'cache-manager';
import type { Dispatcher } from 'undici';
import { ShelfError } from '../errors.js';

/** `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`, as Docker registries send it. */
export interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** Parses a Bearer challenge; undefined for other schemes (Basic) or a challenge without a realm. */
export function parseBearerChallenge(header: string | undefined): BearerChallenge | undefined {
  if (!header || !/^\s*bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const match of header.replace(/^\s*bearer\s+/i, '').matchAll(/([a-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/gi)) {
    params[match[1]!.toLowerCase()] = (match[2] ?? match[3] ?? '').replace(/\\(.)/g, '$1');
  }
  if (!params.realm) return undefined;
  return { realm: params.realm, ...(params.service && { service: params.service }), ...(params.scope && { scope: params.scope }) };
}

interface IssuedToken {
  value: string;
  ttlMs: number;
}

/** Tokens are refreshed this long before the expiry the token server announced. */
const EXPIRY_MARGIN_SECONDS = 10;
/** What the Docker token spec says to assume when the server does not say. */
const DEFAULT_EXPIRES_IN_SECONDS = 60;

/**
 * Tokens from an upstream's token service (Docker's token authentication), cached per scope until they
 * expire. Concurrent requests for the same scope share one token request.
 */
export class BearerTokenSource {
  private readonly cache: Cache = createCache();

  constructor(
    private readonly dispatcher: Dispatcher,
    /** `Basic …` for the token request when the repository has credentials. */
    private readonly basicAuthorization: string | undefined,
  ) {}

  /** A cached token for the scope, if one is still valid. */
  async cached(scope: string): Promise<string | undefined> {
    return (await this.cache.get<IssuedToken>(scope))?.value ?? undefined;
  }

  /** Asks the challenge's realm for a token, caches it under `scope`, and returns it. */
  async fetch(challenge: BearerChallenge, scope: string): Promise<string> {
    await this.cache.del(scope);
    return this.cache.wrap(scope, () => this.request(challenge), (token) => token.ttlMs).then((token) => token.value);
  }

  private async request(challenge: BearerChallenge): Promise<IssuedToken> {
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    if (challenge.scope) url.searchParams.set('scope', challenge.scope);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { 'user-agent': 'shelf', ...(this.basicAuthorization && { authorization: this.basicAuthorization }) },
      });
    } catch (err) {
      throw new ShelfError('UPSTREAM_UNREACHABLE', 502, `token service ${url.origin} unreachable: ${(err as Error).message}`);
    }
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      throw new ShelfError('UPSTREAM_DENIED', 502, `token service ${url.origin} refused a token (${response.statusCode})`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new ShelfError('UPSTREAM_ERROR', 502, `token service ${url.origin} answered something that is not JSON`);
    }
    const value = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof value !== 'string' || value === '') {
      throw new ShelfError('UPSTREAM_ERROR', 502, `token service ${url.origin} answered without a token`);
    }
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : DEFAULT_EXPIRES_IN_SECONDS;
    return { value, ttlMs: Math.max(1, expiresIn - EXPIRY_MARGIN_SECONDS) * 1000 };
  }
}
