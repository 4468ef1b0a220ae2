import { methodNotAllowed, notFound, ShelfError } from '../errors.js';
import { readAll, readJsonBody, requestBody } from '../http/request-body.js';
import type { RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import { unauthorized, type AccessControl } from '../security/access-control.js';
import { type Actor, type SecurityAdministration } from '../security/administration.js';
import { isNarrowed, type Principal } from '../security/permissions.js';

/**
 * `/api/security/`: users, groups and permission targets (administrators), and API tokens (any user for
 * their own tokens, administrators for anyone's). Shaped after Artifactory's security API.
 */
export class SecurityApi {
  constructor(
    private readonly access: AccessControl,
    private readonly admin: SecurityAdministration,
  ) {}

  async handle(ctx: RequestContext, [area, name, ...rest]: string[]): Promise<void> {
    if (rest.length > 0) throw notFound(`API endpoint /api/security/${[area, name, ...rest].join('/')}`);
    if (area === 'token') {
      const principal = await this.access.principal(ctx);
      return this.tokens(ctx, principal, this.access.actor(ctx, principal), name);
    }
    const actor = this.access.actor(ctx, await this.access.administrator(ctx));
    try {
      await this.administer(ctx, actor, area, name);
    } catch (err) {
      // A refused change is audited too, with its status (a successful one is audited where it is made).
      if (ctx.method !== 'GET' && err instanceof ShelfError) {
        this.access.audit.record({ event: `${area}.${ctx.method.toLowerCase()}`, ...actor, target: name ?? null, result: err.status, reason: err.message });
      }
      throw err;
    }
  }

  private async administer(ctx: RequestContext, actor: Actor, area: string | undefined, name: string | undefined): Promise<void> {
    switch (area) {
      case 'users':
        return this.collection(ctx, name, {
          list: () => this.admin.listUsers(),
          put: async (key) => sendJson(ctx, (await this.admin.putUser(actor, key, await readJsonBody(ctx))).created ? 201 : 200, { name: key }),
          remove: (key) => this.admin.deleteUser(actor, key),
        });
      case 'groups':
        return this.collection(ctx, name, {
          list: () => this.admin.listGroups(),
          put: async (key) => {
            await this.admin.putGroup(actor, key, await readJsonBody(ctx));
            sendJson(ctx, 200, { name: key });
          },
          remove: (key) => this.admin.deleteGroup(actor, key),
        });
      case 'permissions':
        return this.collection(ctx, name, {
          list: () => this.admin.listPermissions(),
          put: async (key) => sendJson(ctx, 200, await this.admin.putPermission(actor, key, await readJsonBody(ctx))),
          remove: (key) => this.admin.deletePermission(actor, key),
        });
      default:
        throw notFound(`API endpoint /api/security/${area ?? ''}`);
    }
  }

  /** GET the list (or one item by name), PUT an item, DELETE an item. */
  private async collection(
    ctx: RequestContext,
    name: string | undefined,
    ops: { list(): Promise<{ name: string }[]>; put(name: string): Promise<void>; remove(name: string): Promise<void> },
  ): Promise<void> {
    if (ctx.method === 'GET') {
      const items = await ops.list();
      if (name === undefined) return sendJson(ctx, 200, items);
      const item = items.find((i) => i.name === name);
      if (!item) throw notFound(name);
      return sendJson(ctx, 200, item);
    }
    if (name === undefined) throw methodNotAllowed(ctx.method, ['GET']);
    if (ctx.method === 'PUT') return ops.put(name);
    if (ctx.method === 'DELETE') {
      await ops.remove(name);
      ctx.res.writeHead(204).end();
      return;
    }
    throw methodNotAllowed(ctx.method, ['GET', 'PUT', 'DELETE']);
  }

  /**
   * `POST /api/security/token` (JSON, or Artifactory's form fields `username`, `scope`, `expires_in`),
   * `GET` to list, `DELETE /api/security/token/<id>` to revoke. Users manage their own tokens, administrators
   * (with an unscoped credential) anyone's. A scoped token makes only tokens within its own scope and expiry.
   */
  private async tokens(ctx: RequestContext, principal: Principal, actor: Actor, id: string | undefined): Promise<void> {
    if (principal.username === null) throw unauthorized('log in to manage tokens');
    const owner = principal.admin && !isNarrowed(principal) ? undefined : principal.username;
    if (ctx.method === 'GET' && id === undefined) {
      return sendJson(ctx, 200, await this.admin.listTokens(owner));
    }
    if (ctx.method === 'POST' && id === undefined) {
      const input = await tokenInput(ctx);
      const username = (input.username as string | undefined) ?? principal.username;
      if (username !== principal.username) await this.access.administrator(ctx);
      return sendJson(ctx, 201, await this.admin.createToken(actor, username, input, principal));
    }
    if (ctx.method === 'DELETE' && id !== undefined) {
      await this.admin.revokeToken(actor, id, owner);
      ctx.res.writeHead(204).end();
      return;
    }
    throw methodNotAllowed(ctx.method, id === undefined ? ['GET', 'POST'] : ['DELETE']);
  }
}

/** A token request as JSON, or as the form fields Artifactory takes (`scope` as `repos:actions`, space-separated). */
async function tokenInput(ctx: RequestContext): Promise<Record<string, unknown>> {
  if (!ctx.req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
    const body = await readJsonBody(ctx);
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  }
  const form = new URLSearchParams((await readAll(requestBody(ctx, 64 * 1024), 64 * 1024)).toString('utf8'));
  const input: Record<string, unknown> = {};
  for (const key of ['username', 'description']) if (form.has(key)) input[key] = form.get(key);
  if (form.has('expires_in')) input.expiresInSeconds = Number(form.get('expires_in'));
  const scope = form.get('scope');
  if (scope) {
    // `repo1,repo2:read,write`
    const [repositories = '', actions = ''] = scope.split(':');
    input.scope = { repositories: repositories.split(',').filter(Boolean), actions: actions.split(',').filter(Boolean) };
  }
  return input;
}
