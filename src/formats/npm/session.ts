import { badRequest, ShelfError } from '../../errors.js';
import { readJsonBody } from '../../http/request-body.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendJson } from '../../http/respond.js';
import type { AccessControl } from '../../security/access-control.js';

/** The same answer for an unknown user and a wrong password, so neither can be probed. */
const badCredentials = () => new ShelfError('UNAUTHORIZED', 401, 'incorrect username or password');

/**
 * `npm login` and `npm adduser` (the CouchDB user document npm sends when a registry has no web login):
 * an existing user's password is checked and a new API token returned, which npm keeps as `_authToken`.
 * Users are created by an administrator (`shelf user add`), not by signing up here.
 */
export async function login(ctx: RequestContext, username: string, access: AccessControl): Promise<void> {
  const body = await readJsonBody(ctx);
  const document = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof document.password !== 'string' || (document.name !== undefined && document.name !== username)) {
    throw badRequest('the body must carry the name of the URL and a password');
  }
  const principal = await access.login(ctx, { kind: 'password', username, password: document.password }, 'npm').catch((err: unknown) => {
    // npm shows the message; a challenge header would only make it ask for a one-time password.
    throw err instanceof ShelfError && err.status === 401 ? badCredentials() : err;
  });
  const userAgent = ctx.req.headers['user-agent']?.split(' ')[0] ?? 'npm';
  const { record, token } = await access.identity.issueToken(username, `npm login (${userAgent})`);
  access.audit.record({ event: 'token.create', user: principal.username, address: ctx.clientAddress, tokenId: record.id, result: 'ok' });
  sendJson(ctx, 201, { ok: true, id: `org.couchdb.user:${username}`, token });
}

/** `npm whoami`: the user behind the request's token. */
export async function whoami(ctx: RequestContext, access: AccessControl): Promise<void> {
  const { username } = await access.principal(ctx);
  if (username === null) throw new ShelfError('UNAUTHORIZED', 401, 'not logged in: run npm login');
  sendJson(ctx, 200, { username });
}

/** `npm logout`: the token in the URL is revoked. */
export async function logout(ctx: RequestContext, token: string, access: AccessControl): Promise<void> {
  const revoked = await access.identity.revokeTokenValue(token);
  if (!revoked) throw new ShelfError('NOT_FOUND', 404, 'no such token');
  access.audit.record({ event: 'token.revoke', user: revoked.username, address: ctx.clientAddress, tokenId: revoked.id, result: 'ok' });
  sendJson(ctx, 200, { ok: true });
}
