import { z } from 'zod';
import { PathPattern } from '../repos/path-pattern.js';

/**
 * What a caller may do to a repository: `read` (download, list, search), `write` (deploy, publish, push),
 * `delete` (unpublish, remove), `annotate` (properties, dist-tags, yanks) and `manage` (repository
 * administration: promotion sources, rate-limit state).
 */
export const ACTIONS = ['read', 'write', 'delete', 'annotate', 'manage'] as const;
export type Action = (typeof ACTIONS)[number];

/** Stand-ins for sets of repositories in a permission target, as Artifactory names them. */
export const ANY = 'ANY';
export const ANY_LOCAL = 'ANY LOCAL';
export const ANY_REMOTE = 'ANY REMOTE';

const actions = z.array(z.enum(ACTIONS));

/**
 * Who may do what where: a set of repositories, Ant-style include/exclude patterns over the subject (a
 * Docker image name, an npm package name with its scope, a PyPI project, a Maven or generic path), and the
 * actions granted to anonymous callers, to users and to groups.
 */
export const permissionTargetSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$/, 'letters, digits, ".", "_", "-" and spaces'),
  repositories: z.array(z.string().min(1)).min(1),
  includes: z.array(z.string().min(1)).default(['**']),
  excludes: z.array(z.string().min(1)).default([]),
  anonymous: actions.default([]),
  users: z.record(z.string(), actions).default({}),
  groups: z.record(z.string(), actions).default({}),
});
export type PermissionTarget = z.output<typeof permissionTargetSchema>;

/**
 * A narrowing of what a principal's permissions allow, carried by its credential: an API token's scope
 * (some repositories, some actions) or a Docker token's grants (these actions on this image).
 */
export interface ScopeGrant {
  /** Repository keys, or ["ANY"]. */
  repositories: string[];
  /** The one subject granted; every subject when absent. */
  subject?: string;
  actions: Action[];
}

/** Who is calling, once their credentials have been checked; `username` null is anonymous. */
export interface Principal {
  username: string | null;
  admin: boolean;
  groups: string[];
  /** The API token that authenticated the request, when it was one (or that a registry token was issued for). */
  tokenId?: string;
  /** When present, the credential allows no more than these grants, whatever the permissions say. */
  scope?: ScopeGrant[];
  /**
   * The credential is a token-service bearer token, good for the registry API only: a grant it lacks is asked
   * for with a new token (401, not 403). `id` names it in the audit log; `catalog` says it may list the
   * catalog, filtered by `catalogScope` (the scope of the credential it was issued for, if any).
   */
  registryToken?: { id: string; catalog: boolean; catalogScope?: ScopeGrant[] };
  /** When the credential stops being valid (a token's expiry), so a cache never outlives it. */
  expiresAt?: number;
  /** The credential is a web UI sign-in (its session cookie). */
  session?: true;
}

export const ANONYMOUS: Principal = { username: null, admin: false, groups: [] };

/** A credential narrower than its user: a scoped API token or a registry token. It may not administer or widen itself. */
export const isNarrowed = (principal: Principal) => principal.scope !== undefined || principal.registryToken !== undefined;

/** Which credential acted, as the audit log names it: an API token's id, a registry token's id. */
export function credentialOf(principal: Principal): string | undefined {
  if (principal.registryToken) {
    return `registry-token:${principal.registryToken.id}${principal.tokenId ? ` (for token:${principal.tokenId})` : ''}`;
  }
  if (principal.session) return 'session';
  return principal.tokenId && `token:${principal.tokenId}`;
}

/** Of a target's repositories, those that are neither a configured repository key nor ANY, ANY LOCAL, ANY REMOTE. */
export function unknownRepositories(repositories: string[], repoKeys: string[]): string[] {
  const known = new Set([ANY, ANY_LOCAL, ANY_REMOTE, ...repoKeys]);
  return repositories.filter((key) => !known.has(key));
}

/** The repository facts a permission check needs. */
export interface RepoRef {
  key: string;
  type: 'local' | 'remote' | 'virtual';
}

/** Permission targets with their patterns compiled, checked as a set. */
export class PermissionSet {
  private readonly compiled: { target: PermissionTarget; includes: PathPattern[]; excludes: PathPattern[] }[];

  constructor(readonly targets: PermissionTarget[]) {
    this.compiled = targets.map((target) => ({
      target,
      includes: target.includes.map((p) => new PathPattern(p)),
      excludes: target.excludes.map((p) => new PathPattern(p)),
    }));
  }

  /**
   * May `principal` do `action` in `repo` on `subject`? Without a subject the question is whether the
   * action is granted anywhere in the repository (a listing, or an upload whose name is not yet read);
   * the handler then asks again per subject. Administrators may do everything; a scope only narrows.
   */
  authorize(principal: Principal, action: Action, repo: RepoRef, subject?: string): boolean {
    if (principal.scope && !principal.scope.some((grant) => scopeAllows(grant, action, repo, subject))) return false;
    if (principal.admin) return true;
    return this.compiled.some(
      ({ target, includes, excludes }) =>
        coversRepo(target.repositories, repo) &&
        (subject === undefined || (includes.some((p) => p.matches(subject)) && !excludes.some((p) => p.matches(subject)))) &&
        grantedActions(target, principal).includes(action),
    );
  }

  /**
   * Whether `principal` may read every subject of `repo` (no include/exclude pattern or scoped subject narrows
   * it), so a listing can be served whole instead of being filtered name by name.
   */
  readsEverything(principal: Principal, repo: RepoRef): boolean {
    // Without a subject, only subject-free grants allow (a grant for one image covers no listing).
    if (principal.scope && !principal.scope.some((grant) => scopeAllows(grant, 'read', repo, undefined))) return false;
    if (principal.admin) return true;
    return this.compiled.some(
      ({ target }) =>
        coversRepo(target.repositories, repo) &&
        target.includes.includes('**') &&
        target.excludes.length === 0 &&
        grantedActions(target, principal).includes('read'),
    );
  }
}

/** What a target grants the principal; a signed-in user keeps what anonymous callers may do. */
function grantedActions(target: PermissionTarget, principal: Principal): Action[] {
  if (principal.username === null) return target.anonymous;
  return [
    ...target.anonymous,
    ...(target.users[principal.username] ?? []),
    ...principal.groups.flatMap((group) => target.groups[group] ?? []),
  ];
}

function coversRepo(repositories: string[], repo: RepoRef): boolean {
  return repositories.some(
    (entry) =>
      entry === repo.key ||
      entry === ANY ||
      (entry === ANY_LOCAL && repo.type === 'local') ||
      (entry === ANY_REMOTE && repo.type === 'remote'),
  );
}

/**
 * Whether a credential narrowed to `scope` may hand out a token scoped to `wanted`: each repository of
 * `wanted`, with all its actions, lies within one subject-free grant of `scope` (a stand-in such as
 * ANY LOCAL only within the same stand-in or ANY; a repository key also within the stand-in covering it).
 */
export function scopeWithin(wanted: { repositories: string[]; actions: Action[] }, scope: ScopeGrant[], repoOf: (key: string) => RepoRef | undefined): boolean {
  return wanted.repositories.every((entry) =>
    scope.some((grant) => {
      if (grant.subject !== undefined || !wanted.actions.every((a) => grant.actions.includes(a))) return false;
      if (grant.repositories.includes(entry) || grant.repositories.includes(ANY)) return true;
      const repo = repoOf(entry);
      return repo !== undefined && coversRepo(grant.repositories, repo);
    }),
  );
}

function scopeAllows(grant: ScopeGrant, action: Action, repo: RepoRef, subject: string | undefined): boolean {
  return (
    grant.actions.includes(action) &&
    coversRepo(grant.repositories, repo) &&
    (grant.subject === undefined || grant.subject === subject)
  );
}
