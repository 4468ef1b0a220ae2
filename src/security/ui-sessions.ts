import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { firstValue } from '../header-values.js';
import type { RequestContext } from '../http/request-context.js';
import type { IdentityStore } from '../storage/identity-store.js';
import type { Identity } from './identity.js';
import type { Principal } from './permissions.js';

export const SESSION_COOKIE = 'shelf_session';
/** The header a signed-in browser sends with every request that changes something (the CSRF token). */
export const CSRF_HEADER = 'x-shelf-csrf';

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * Web UI sign-ins: a random secret in an HttpOnly cookie, kept in the index only as its hash (so signing
 * out, deleting or disabling the user ends it on every process at once), and a CSRF token derived from it
 * with a key of Shelf's, which the page holds in memory and sends back as a header.
 */
export class UiSessions {
  private readonly csrfKey: Buffer;

  constructor(
    private readonly store: IdentityStore,
    private readonly identity: Identity,
    signingKey: Buffer,
    private readonly ttlSeconds: number,
  ) {
    this.csrfKey = createHmac('sha256', signingKey).update('shelf ui csrf').digest();
  }

  async start(username: string): Promise<{ secret: string; csrfToken: string; expiresAt: number }> {
    const secret = randomBytes(32).toString('base64url');
    const createdAt = Date.now();
    const expiresAt = createdAt + this.ttlSeconds * 1000;
    await this.store.putSession({ hash: hashOf(secret), username, createdAt, expiresAt });
    return { secret, csrfToken: this.csrfToken(secret), expiresAt };
  }

  /** The signed-in user, as they are now; undefined for an unknown or expired session or a disabled user. */
  async principal(secret: string): Promise<Principal | undefined> {
    const username = await this.store.findSession(hashOf(secret), Date.now());
    const principal = username === undefined ? undefined : await this.identity.principalFor(username);
    return principal && { ...principal, session: true };
  }

  async end(secret: string): Promise<void> {
    await this.store.deleteSession(hashOf(secret));
  }

  csrfToken(secret: string): string {
    return createHmac('sha256', this.csrfKey).update(hashOf(secret)).digest('base64url');
  }

  csrfMatches(secret: string, given: string | undefined): boolean {
    const expected = Buffer.from(this.csrfToken(secret));
    const actual = Buffer.from(given ?? '');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /** The Set-Cookie value that starts (`secret`) or ends (null) a session; Secure when the request reached Shelf over HTTPS. */
  cookie(ctx: RequestContext, secret: string | null): string {
    const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(ctx.baseUrl.startsWith('https:') ? ['Secure'] : [])];
    const lifetime = secret === null ? 'Max-Age=0' : `Max-Age=${this.ttlSeconds}`;
    return [`${SESSION_COOKIE}=${secret ?? ''}`, lifetime, ...attributes].join('; ');
  }
}

/** The session secret a request's Cookie header carries, if any. */
export function sessionSecretOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** The CSRF header of a request. */
export const csrfHeaderOf = (req: IncomingMessage) => firstValue(req.headers[CSRF_HEADER]);
