import { ShelfError } from '../../errors.js';
import { sendJson } from '../../http/respond.js';
import type { RequestContext } from '../../http/request-context.js';
import { TOKEN_SERVICE, unauthorized, type RegistryTokenClaims } from '../../security/access-control.js';
import { parseAuthorization } from '../../security/identity.js';
import { looksLikeJwt, type JwtClaims } from '../../security/jwt.js';
import { ANONYMOUS, type Action, type Principal, type ScopeGrant } from '../../security/permissions.js';
import type { FormatServices } from '../format-module.js';
import type { ImageTarget } from './image-target.js';

/** Docker's scope actions and the permissions they need. */
const DOCKER_ACTIONS: Record<string, Action[]> = {
  pull: ['read'],
  push: ['write'],
  delete: ['delete'],
  '*': ['read', 'write', 'delete'],
};
const DOCKER_VERB: Record<Action, string | undefined> = {
  read: 'pull',
  write: 'push',
  delete: 'delete',
  annotate: undefined,
  manage: undefined,
};

/** The `scope` Shelf asks for in a challenge for an action on an image. */
export const challengeScope = (name: string, action: Action) =>
  `repository:${name}:${action === 'write' ? 'pull,push' : (DOCKER_VERB[action] ?? 'pull')}`;

export const bearerChallenge = (ctx: RequestContext, scope?: string) =>
  `Bearer realm="${ctx.baseUrl}/v2/token",service="${TOKEN_SERVICE}"${scope ? `,scope="${scope}"` : ''}`;

/** One `type:name:actions` item of a token request (`repository:docker-local/team/app:pull,push`). */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

/**
 * `GET /v2/token`, Docker's token service: Basic credentials (or none, for anonymous pulls) in, a short-lived
 * signed bearer token out, whose `access` claim lists exactly the granted actions per requested repository.
 * Shelf's registry endpoints accept it until it expires.
 */
export async function issueRegistryToken(
  ctx: RequestContext,
  services: FormatServices,
  resolve: (name: string) => ImageTarget,
): Promise<void> {
  const { access, config } = services;
  const params = ctx.url.searchParams;
  if (params.has('service') && params.get('service') !== TOKEN_SERVICE) {
    throw new ShelfError('UNSUPPORTED', 400, `this token service issues tokens for service "${TOKEN_SERVICE}"`);
  }
  const principal = await caller(ctx, services);
  const claims: { type: string; name: string; actions: string[] }[] = [];
  const grants: ScopeGrant[] = [];
  let catalog = false;
  for (const scope of params.getAll('scope').flatMap((s) => s.split(' ')).map(parseScope)) {
    if (!scope) continue;
    if (scope.type === 'registry' && scope.name === 'catalog') {
      // Only the listing: it is filtered per image by what the user (within their credential's scope) may read.
      claims.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      catalog = true;
      continue;
    }
    if (scope.type !== 'repository') continue;
    let target;
    try {
      target = resolve(scope.name);
    } catch {
      continue;
    }
    const wanted = [...new Set(scope.actions.flatMap((a) => DOCKER_ACTIONS[a] ?? []))];
    const allowed = await access.allowedActions(principal, target.repo, target.image, wanted);
    if (allowed.length === 0) continue;
    claims.push({ type: 'repository', name: scope.name, actions: allowed.map((a) => DOCKER_VERB[a]!) });
    for (const action of allowed) grants.push({ repositories: [access.checkedRepo(action, target.repo).key], subject: target.image, actions: [action] });
  }
  const ttl = config.security.dockerTokenTtlSeconds;
  const expiresAt = Math.min(Date.now() + ttl * 1000, principal.expiresAt ?? Infinity);
  const extra: Omit<RegistryTokenClaims, keyof JwtClaims> = {
    grants,
    ...(catalog && { catalog, ...(principal.scope && { catalogScope: principal.scope }) }),
    ...(principal.tokenId !== undefined && { tid: principal.tokenId }),
  };
  const lifetime = Math.max(1, Math.floor((expiresAt - Date.now()) / 1000));
  const { token, claims: signed } = access.tokens.sign(principal.username ?? '', TOKEN_SERVICE, lifetime, { access: claims, ...extra });
  sendJson(ctx, 200, { token, access_token: token, expires_in: lifetime, issued_at: new Date(signed.iat * 1000).toISOString() });
}

/** The user a token request's Basic credentials (or a Shelf API token) prove; anonymous without any. */
async function caller(ctx: RequestContext, { access }: FormatServices): Promise<Principal> {
  const header = ctx.req.headers.authorization;
  if (!header) return ANONYMOUS;
  const credentials = parseAuthorization(header);
  if (!credentials || (credentials.kind === 'token' && looksLikeJwt(credentials.token))) {
    throw unauthorized('log in with a user name and a password or API token');
  }
  return access.login(ctx, credentials, 'docker');
}
