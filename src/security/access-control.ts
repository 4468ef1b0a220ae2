import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ShelfError } from '../errors.js';
import type { RequestContext } from '../http/request-context.js';
import type { Repository } from '../repos/repository.js';
import { deployTarget } from '../repos/deploy-target.js';
import { RemoteRepo } from '../repos/remote-repo.js';
import { VirtualRepo } from '../repos/virtual-repo.js';
import type { SecurityConfig } from '../config/schema.js';
import type { IdentityStore, LoginThrottleKey } from '../storage/identity-store.js';
import type { AuditLog } from './audit-log.js';
import { parseAuthorization, type Credentials, type Identity } from './identity.js';
import { looksLikeJwt, type JwtClaims, type JwtSigner } from './jwt.js';
import type { Actor } from './administration.js';
import { CSRF_HEADER, csrfHeaderOf, sessionSecretOf, type UiSessions } from './ui-sessions.js';
import { ANONYMOUS, credentialOf, isNarrowed, PermissionSet, type Action, type Principal, type RepoRef, type ScopeGrant } from './permissions.js';

/** What Shelf's token service signs into a registry token besides the standard claims (see formats/docker/token-service.ts). */
export interface RegistryTokenClaims extends JwtClaims {
  grants: ScopeGrant[];
  /** May list the catalog (`registry:catalog:*`), filtered by `catalogScope`, the scope of the credential it was issued for. */
  catalog?: boolean;
  catalogScope?: ScopeGrant[];
  /** The API token it was issued for, for the audit log. */
  tid?: string;
}

/** The audience of the bearer tokens Shelf's token service issues (Docker's `service` parameter). */
export const TOKEN_SERVICE = 'shelf';

/** How long a checked credential is trusted without checking again (a password check costs ~100 ms of scrypt). */
const CREDENTIAL_CACHE_MS = 60_000;

export const BASIC_CHALLENGE = 'Basic realm="Shelf", charset="UTF-8"';

export const unauthorized = (message: string, challenge = BASIC_CHALLENGE) =>
  new ShelfError('UNAUTHORIZED', 401, message, { 'www-authenticate': challenge });

const INVALID_CREDENTIALS = 'invalid credentials';

/** Methods that change nothing, which a browser may send with its session cookie alone. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Who is calling and what they may do: authenticates a request's credentials once (cached, throttled after
 * failed attempts), and answers every permission question through one PermissionSet, made from the config's
 * permission targets and those kept in the index, rebuilt whenever the index's security revision moves.
 */
export class AccessControl {
  /** Checked credentials, with the addresses a password was shown from (see checkCached). */
  private readonly credentials = new LRUCache<string, { principal: Principal; revision: number; addresses: Set<string> }>({
    max: 10_000,
    ttl: CREDENTIAL_CACHE_MS,
  });
  private readonly checking = new Map<string, Promise<Principal>>();
  private permissions: { set: PermissionSet; revision: number } | undefined;

  constructor(
    private readonly config: SecurityConfig,
    private readonly store: IdentityStore,
    readonly identity: Identity,
    readonly tokens: JwtSigner,
    readonly audit: AuditLog,
    readonly sessions: UiSessions,
    /** An edge node: nobody changes content through the protocols or the API (only imports and replication do). */
    private readonly readOnly = false,
  ) {}

  /** The caller of a request: anonymous without credentials; invalid credentials are a 401, whatever anonymous may do. */
  principal(ctx: RequestContext): Promise<Principal> {
    ctx.principal ??= this.authenticate(ctx).then((principal) => {
      ctx.access.user = principal.username;
      ctx.access.credential = credentialOf(principal);
      // A token-service token is handed to registry clients for minutes; it never reaches the REST API.
      if (principal.registryToken && !ctx.registryApi) throw unauthorized('a registry token is valid for the registry API (/v2/) only');
      return principal;
    });
    return ctx.principal;
  }

  /**
   * The caller, when it is an administrator presenting a credential that is not narrowed (a password, or an
   * unscoped API token): administration through a scoped token would let the token widen itself.
   */
  async administrator(ctx: RequestContext): Promise<Principal> {
    const principal = await this.principal(ctx);
    if (principal.username === null) throw unauthorized('administrators only');
    if (!principal.admin) throw new ShelfError('FORBIDDEN', 403, 'administrators only');
    if (isNarrowed(principal)) throw new ShelfError('FORBIDDEN', 403, 'a scoped token cannot administer Shelf; use a password or an unscoped token');
    return principal;
  }

  /** Who made a change, for the audit log: the user, the address and the credential. */
  actor(ctx: RequestContext, principal: Principal): Actor {
    const credential = credentialOf(principal);
    return { user: principal.username, address: ctx.clientAddress, ...(credential && { credential }) };
  }

  /**
   * Refuses the request unless its caller may do `action` in `repo` on `subject`: 401 with `challenge` for an
   * anonymous caller (so the client sends credentials), 403 for an authenticated one. A change through a
   * virtual repository is checked against the repository it lands in, its `defaultDeployRepo`.
   */
  async require(ctx: RequestContext, action: Action, repo: Repository, subject?: string, challenge?: string): Promise<Principal> {
    if (this.readOnly && action !== 'read') {
      throw new ShelfError('READ_ONLY', 403, `this Shelf is an edge node (server.mode: edge): it serves what bundles and replication bring, and nobody may ${action} in ${repo.key}`);
    }
    const checked = this.checkedRepo(action, repo);
    if (action !== 'read') ctx.access.change = { action, repo: checked.key, ...(subject !== undefined && { subject }) };
    const principal = await this.principal(ctx);
    if ((await this.permissionSet()).authorize(principal, action, checked, subject)) return principal;
    if (principal.username === null) throw unauthorized(`authentication required to ${action} in ${repo.key}`, challenge);
    if (principal.registryToken) throw unauthorized(`the token does not grant ${action} in ${repo.key}`, challenge && `${challenge},error="insufficient_scope"`);
    const what = subject === undefined ? '' : ` ${subject}`;
    throw new ShelfError('FORBIDDEN', 403, `${principal.username} may not ${action}${what} in ${checked.key}`);
  }

  /**
   * What the request's caller may read, as a plain predicate: the caller and the permissions are looked up
   * once, so a listing (catalog, search, repository list) filters many items without a query per item.
   */
  async readFilter(ctx: RequestContext, as?: Principal): Promise<(repo: RepoRef, subject?: string) => boolean> {
    const principal = as ?? (await this.principal(ctx));
    const permissions = await this.permissionSet();
    return (repo, subject) => permissions.authorize(principal, 'read', repo, subject);
  }

  /** Whether the request's caller may read everything in `repo`: a listing of it then needs no filter. */
  async readsEverything(ctx: RequestContext, repo: RepoRef): Promise<boolean> {
    return (await this.permissionSet()).readsEverything(await this.principal(ctx), repo);
  }

  /** The actions of `wanted` that the principal may do on `subject` in `repo` (what a Docker token grants). */
  async allowedActions(principal: Principal, repo: Repository, subject: string, wanted: readonly Action[]): Promise<Action[]> {
    const permissions = await this.permissionSet();
    return wanted.filter((action) => {
      let checked;
      try {
        checked = this.checkedRepo(action, repo);
      } catch {
        return false; // nothing can be written there
      }
      return permissions.authorize(principal, action, checked, subject);
    });
  }

  /**
   * Where an action's permission is checked: a change through a virtual repository lands in its deploy
   * repository. Writes to a remote repository (a cache only Shelf fills) are refused outright (405); a delete
   * there evicts the cached file, which the next request fetches again.
   */
  checkedRepo(action: Action, repo: Repository): Repository {
    if (action === 'delete' && repo instanceof RemoteRepo) return repo;
    if (action === 'write' || action === 'delete') return deployTarget(repo, action);
    return action !== 'read' && repo instanceof VirtualRepo && repo.config.defaultDeployRepo ? repo.deployRepo() : repo;
  }

  /**
   * Checks a user's password or token where a client logs in explicitly (the Docker token service, npm
   * login); failures count toward the throttle and every attempt is audited.
   */
  async login(ctx: RequestContext, credentials: Credentials, via: string): Promise<Principal> {
    const principal = await this.checkCached(ctx, credentials);
    this.audit.record({ event: 'login', via, ...this.actor(ctx, principal), result: 'ok' });
    return principal;
  }

  private async authenticate(ctx: RequestContext): Promise<Principal> {
    const header = ctx.req.headers.authorization;
    if (!header) return this.sessionPrincipal(ctx);
    const credentials = parseAuthorization(header);
    if (!credentials) throw unauthorized('unsupported Authorization scheme');
    if (credentials.kind === 'token' && looksLikeJwt(credentials.token)) return this.bearerTokenPrincipal(credentials.token);
    return this.checkCached(ctx, credentials);
  }

  /**
   * Credentials checked at most once a minute (and again when the security revision moves), whatever
   * protocol presents them; the same credentials arriving while they are checked wait for that one check.
   */
  private async checkCached(ctx: RequestContext, credentials: Credentials): Promise<Principal> {
    const revision = await this.store.securityRevision();
    const key = createHash('sha256').update(JSON.stringify(credentials)).digest('base64');
    const cached = this.credentials.get(key);
    if (cached && cached.revision === revision && (cached.principal.expiresAt ?? Infinity) > Date.now()) {
      if (credentials.kind === 'token' || cached.addresses.has(ctx.clientAddress)) return cached.principal;
      // A password known good, from a new address, still passes the throttle: a guess that happens to match a
      // cached password must not skip the back-off its address is in.
      const principal = await this.passwordAttempt(ctx, credentials, async () => cached.principal);
      cached.addresses.add(ctx.clientAddress);
      return principal;
    }
    let check = this.checking.get(key);
    if (!check) {
      check = this.checkCredentials(ctx, credentials)
        .then((principal) => {
          this.credentials.set(key, { principal, revision, addresses: new Set([ctx.clientAddress]) });
          return principal;
        })
        .finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    return check;
  }

  /**
   * A browser's web UI sign-in, when it sends no Authorization header (one that does is judged by that alone).
   * A session that ended counts as anonymous: the page then offers to sign in. A request that changes
   * something must carry the session's CSRF token, which a page on another site cannot know.
   */
  private async sessionPrincipal(ctx: RequestContext): Promise<Principal> {
    const secret = sessionSecretOf(ctx.req);
    const principal = secret === undefined ? undefined : await this.sessions.principal(secret);
    if (!principal) return ANONYMOUS;
    if (!SAFE_METHODS.has(ctx.method) && !this.sessions.csrfMatches(secret!, csrfHeaderOf(ctx.req))) {
      throw new ShelfError('CSRF_TOKEN', 403, `a signed-in browser's change needs the ${CSRF_HEADER} header that GET /api/session gives`);
    }
    return principal;
  }

  /** A token from Shelf's token service: its user as they are now, narrowed to the grants it carries. */
  private async bearerTokenPrincipal(token: string): Promise<Principal> {
    const claims = this.tokens.verify(token, TOKEN_SERVICE) as RegistryTokenClaims | undefined;
    const user = claims && claims.sub !== '' ? await this.identity.principalFor(claims.sub) : claims && ANONYMOUS;
    if (!claims || !user) throw unauthorized('invalid or expired token');
    return {
      ...user,
      ...(claims.tid !== undefined && { tokenId: claims.tid }),
      scope: claims.grants,
      registryToken: { id: claims.jti, catalog: claims.catalog === true, ...(claims.catalogScope && { catalogScope: claims.catalogScope }) },
      expiresAt: claims.exp * 1000,
    };
  }

  /**
   * Checks credentials against the throttle. An API token costs one indexed lookup, so it is checked first
   * and a valid one is never throttled; an invalid one counts against its address. A password attempt is
   * counted before scrypt runs, per user and address (so nobody elsewhere is locked out of their account)
   * and per address, each with a growing back-off rather than a lockout.
   */
  private async checkCredentials(ctx: RequestContext, credentials: Credentials): Promise<Principal> {
    if (credentials.kind === 'token') {
      const principal = await this.identity.authenticate(credentials);
      if (principal) return principal;
      await this.takeAttempt(ctx, credentials, [{ key: `address:${ctx.clientAddress}`, free: this.config.loginThrottle.maxFailuresPerAddress }]);
      this.refused(ctx, credentials);
    }
    return this.passwordAttempt(ctx, credentials, () => this.identity.authenticate(credentials));
  }

  /** A password attempt: taken under the user-and-address and the address keys, checked, then settled. */
  private async passwordAttempt(ctx: RequestContext, credentials: Credentials, check: () => Promise<Principal | undefined>): Promise<Principal> {
    const { maxFailuresPerUser, maxFailuresPerAddress } = this.config.loginThrottle;
    const user = `user:${credentials.username ?? ''}@${ctx.clientAddress}`;
    const address = `address:${ctx.clientAddress}`;
    await this.takeAttempt(ctx, credentials, [{ key: user, free: maxFailuresPerUser }, { key: address, free: maxFailuresPerAddress }]);
    const principal = await check();
    await this.store.settleLoginAttempt([{ key: user, clear: true }, { key: address, clear: false }], principal !== undefined, Date.now());
    if (!principal) this.refused(ctx, credentials);
    return principal;
  }

  private async takeAttempt(ctx: RequestContext, credentials: Credentials, keys: LoginThrottleKey[]): Promise<void> {
    const { windowSeconds, maxDelaySeconds } = this.config.loginThrottle;
    const now = Date.now();
    const { retryAt } = await this.store.takeLoginAttempt(keys, now, windowSeconds * 1000, maxDelaySeconds * 1000);
    if (retryAt === undefined) return;
    this.audit.record({ event: 'login', user: credentials.username ?? null, address: ctx.clientAddress, result: 'throttled' });
    const seconds = String(Math.max(1, Math.ceil((retryAt - now) / 1000)));
    throw new ShelfError('TOO_MANY_REQUESTS', 429, `too many failed logins; try again in ${seconds} s`, { 'retry-after': seconds });
  }

  private refused(ctx: RequestContext, credentials: Credentials): never {
    this.audit.record({ event: 'login', user: credentials.username ?? null, address: ctx.clientAddress, result: 'failed' });
    throw unauthorized(INVALID_CREDENTIALS);
  }

  private async permissionSet(): Promise<PermissionSet> {
    const revision = await this.store.securityRevision();
    if (this.permissions?.revision !== revision) {
      const stored = await this.store.listPermissionTargets();
      this.permissions = { set: new PermissionSet([...this.config.permissions, ...stored]), revision };
    }
    return this.permissions.set;
  }
}
