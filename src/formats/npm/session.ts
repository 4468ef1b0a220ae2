import { badRequest, ShelfError } from '../../errors.js';
import { readJsonBody } from '../../http/request-body.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendJson } from '../../http/respond.js';
import type { Identity } from '../../security/identity.js';

/** The same answer for an unknown user and a wrong password, so neither can be probed. */
const badCredentials = () => new ShelfError('UNAUTHORIZED', 401, 'incorrect username or password');

/**
 * `npm login` and `npm adduser` (the CouchDB user document npm sends when a registry has no web login):
 * an existing user's password is checked and a new API token returned, which npm keeps as `_authToken`.
 * Users are created by an administrator (`shelf user add`), not by signing up here.
 */
export async function login(ctx: RequestContext, username: string, identity: Identity): Promise<void> {
  const body = await readJsonBody(ctx);
  const document = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof document.password !== 'string' || (document.name !== undefined && document.name !== username)) {
    throw badRequest('the body must carry the name of the URL and a password');
  }
  const user = await identity.checkPassword(username, document.password);
  if (!user) throw badCredentials();
  const userAgent = ctx.req.headers['user-agent']?.split(' ')[0] ?? 'npm';
  const { token } = await identity.issueToken(user.name, `npm login (${userAgent})`);
  sendJson(ctx, 201, { ok: true, id: `org.couchdb.user:${user.name}`, token });
}

/** `npm whoami`: the user behind the request's token. */
export async function whoami(ctx: RequestContext, identity: Identity): Promise<void> {
  const principal = await identity.authenticate(ctx.req.headers.authorization);
  if (!principal) throw new ShelfError('UNAUTHORIZED', 401, 'not logged in: run npm login');
  sendJson(ctx, 200, { username: principal.username });
}

/** `npm logout`: the token in the URL is revoked. */
export async function logout(ctx: RequestContext, token: string, identity: Identity): Promise<void> {
  if (!(await identity.revokeTokenValue(token))) throw new ShelfError('NOT_FOUND', 404, 'no such token');
  sendJson(ctx, 200, { ok: true });
}
