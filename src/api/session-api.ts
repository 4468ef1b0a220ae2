import { badRequest, methodNotAllowed, ShelfError } from '../errors.js';
import { readJsonBody } from '../http/request-body.js';
import type { RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import type { AccessControl } from '../security/access-control.js';
import type { Principal } from '../security/permissions.js';
import { sessionSecretOf } from '../security/ui-sessions.js';

const describe = (principal: Principal) =>
  principal.username === null ? null : { name: principal.username, admin: principal.admin, groups: principal.groups };

/**
 * `/api/session`: the web UI's sign-in. `GET` says who the caller is (and, for a signed-in browser, its CSRF
 * token); `POST {"username", "password"}` signs in, throttled and audited like every other login, and sets
 * the session cookie; `DELETE` signs out.
 */
export class SessionApi {
  constructor(private readonly access: AccessControl) {}

  async handle(ctx: RequestContext): Promise<void> {
    switch (ctx.method) {
      case 'GET':
      case 'HEAD':
        return this.whoAmI(ctx);
      case 'POST':
        return this.signIn(ctx);
      case 'DELETE':
        return this.signOut(ctx);
      default:
        throw methodNotAllowed(ctx.method, ['GET', 'POST', 'DELETE']);
    }
  }

  private async whoAmI(ctx: RequestContext): Promise<void> {
    const principal = await this.access.principal(ctx);
    const secret = principal.session ? sessionSecretOf(ctx.req) : undefined;
    sendJson(ctx, 200, { user: describe(principal), ...(secret !== undefined && { csrfToken: this.access.sessions.csrfToken(secret) }) }, { 'cache-control': 'no-store' });
  }

  /** JSON only: a form on another site cannot send it without the browser asking this Shelf first (CORS). */
  private async signIn(ctx: RequestContext): Promise<void> {
    if (!ctx.req.headers['content-type']?.startsWith('application/json')) {
      throw new ShelfError('UNSUPPORTED_MEDIA_TYPE', 415, 'sign in with a JSON body {"username": …, "password": …}');
    }
    const body = (await readJsonBody(ctx, 64 * 1024)) as { username?: unknown; password?: unknown } | undefined;
    if (typeof body?.username !== 'string' || typeof body.password !== 'string' || body.username === '') {
      throw badRequest('give "username" and "password"');
    }
    const principal = await this.access.login(ctx, { kind: 'password', username: body.username, password: body.password }, 'ui');
    const session = await this.access.sessions.start(principal.username!);
    sendJson(
      ctx,
      200,
      { user: describe(principal), csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() },
      { 'set-cookie': this.access.sessions.cookie(ctx, session.secret), 'cache-control': 'no-store' },
    );
  }

  /** Ends the session the cookie names (the CSRF check has run: this is a change); the cookie is cleared either way. */
  private async signOut(ctx: RequestContext): Promise<void> {
    const principal = await this.access.principal(ctx);
    const secret = sessionSecretOf(ctx.req);
    if (principal.session && secret !== undefined) {
      await this.access.sessions.end(secret);
      this.access.audit.record({ event: 'logout', via: 'ui', ...this.access.actor(ctx, principal), result: 'ok' });
    }
    ctx.res.writeHead(204, { 'set-cookie': this.access.sessions.cookie(ctx, null) }).end();
  }
}
