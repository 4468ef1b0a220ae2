import { mapBounded, METADATA_READ_CONCURRENCY } from '../concurrency.js';
import { z } from 'zod';
import { ShelfError } from '../errors.js';
import type { GroupRecord, IdentityStore, TokenRecord, UserRecord } from '../storage/identity-store.js';
import type { AuditLog } from './audit-log.js';
import { USERNAME, type Identity } from './identity.js';
import type { ShelfConfig } from '../config/schema.js';
import { ACTIONS, permissionTargetSchema, scopeWithin, unknownRepositories, type PermissionTarget, type Principal } from './permissions.js';

/** Who made a change, and from where, for the audit log. */
export interface Actor {
  user: string | null;
  address?: string;
  /** The token that acted, when it was one (`token:<id>`). */
  credential?: string;
}

export const userChangesSchema = z.strictObject({
  email: z.email().optional(),
  /** null: tokens only (a service account). */
  password: z.string().min(1).nullable().optional(),
  admin: z.boolean().optional(),
  disabled: z.boolean().optional(),
  groups: z.array(z.string().min(1)).optional(),
});

export const groupSchema = z.strictObject({
  description: z.string().default(''),
  members: z.array(z.string().min(1)).default([]),
});

export const tokenRequestSchema = z.strictObject({
  username: z.string().min(1).optional(),
  description: z.string().default('created through the REST API'),
  /** Seconds until the token expires; absent or 0: never. */
  expiresInSeconds: z.number().int().nonnegative().optional(),
  scope: z.strictObject({ repositories: z.array(z.string().min(1)).min(1), actions: z.array(z.enum(ACTIONS)).min(1) }).optional(),
});

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A token as the API and CLI show it: never its value or hash. */
export const describeToken = ({ hash: _hash, ...token }: TokenRecord) => ({
  ...token,
  state: token.revokedAt !== null ? 'revoked' : token.expiresAt !== null && token.expiresAt <= Date.now() ? 'expired' : 'active',
});

/** A user as the API shows it: never the password hash. */
export const describeUser = ({ passwordHash, ...user }: UserRecord, groups: string[]) => ({
  ...user,
  passwordLogin: passwordHash !== null,
  groups,
});

const invalid = (error: z.ZodError) =>
  new ShelfError('BAD_REQUEST', 400, error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));

export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error);
  return parsed.data;
}

/**
 * Changes to users, groups, permission targets and tokens, validated and written to the audit log: one
 * implementation behind both the REST API (/api/security/) and the CLI.
 */
export class SecurityAdministration {
  constructor(
    private readonly store: IdentityStore,
    private readonly identity: Identity,
    private readonly audit: AuditLog,
    /** Its permission targets are listed, but changed only by editing the file. */
    private readonly config: ShelfConfig,
  ) {}

  async listUsers() {
    return mapBounded(await this.store.listUsers(), METADATA_READ_CONCURRENCY, async (u) => describeUser(u, await this.store.groupsOf(u.name)));
  }

  /** Creates a user; an existing name is a conflict. */
  async createUser(actor: Actor, name: string, input: unknown): Promise<void> {
    if (await this.store.getUser(name)) throw new ShelfError('CONFLICT', 409, `user ${name} already exists`);
    await this.putUser(actor, name, input);
  }

  /** Creates the user, or changes the fields given. */
  async putUser(actor: Actor, name: string, input: unknown): Promise<{ created: boolean }> {
    const changes = parseInput(userChangesSchema, input);
    const existing = await this.store.getUser(name);
    // Everything is checked before anything changes: a refused request leaves no half-made user behind.
    if (changes.groups) await this.checkGroups(changes.groups);
    if (!existing) {
      if (!USERNAME.test(name)) throw new ShelfError('BAD_REQUEST', 400, `invalid user name "${name}": lower-case letters, digits, ".", "_", "-"`);
      if (changes.password === undefined) throw new ShelfError('BAD_REQUEST', 400, 'a new user needs a password (or null for a service account)');
      await this.identity.addUser({ name, password: changes.password, ...(changes.email && { email: changes.email }), admin: changes.admin ?? false });
      if (changes.disabled) await this.store.putUser({ ...(await this.store.getUser(name))!, disabled: true });
    } else {
      await this.store.putUser({
        ...existing,
        ...(changes.email !== undefined && { email: changes.email }),
        ...(changes.admin !== undefined && { admin: changes.admin }),
        ...(changes.disabled !== undefined && { disabled: changes.disabled }),
        ...(changes.password !== undefined && { passwordHash: changes.password === null ? null : await this.identity.hash(changes.password) }),
      });
      // A new password signs the user out of the web UI everywhere: whoever knew the old one may be signed in.
      if (changes.password !== undefined) await this.store.deleteSessionsOf(name);
    }
    if (changes.groups) await this.setGroupsOf(name, changes.groups);
    this.audit.record({ event: existing ? 'user.update' : 'user.create', ...actor, target: name, fields: Object.keys(changes), result: 'ok' });
    return { created: !existing };
  }

  async deleteUser(actor: Actor, name: string): Promise<void> {
    if (actor.user === name) throw new ShelfError('CONFLICT', 409, 'you cannot delete yourself');
    if (!(await this.store.deleteUser(name))) throw new ShelfError('NOT_FOUND', 404, `user ${name} not found`);
    this.audit.record({ event: 'user.delete', ...actor, target: name, result: 'ok' });
  }

  listGroups(): Promise<GroupRecord[]> {
    return this.store.listGroups();
  }

  async putGroup(actor: Actor, name: string, input: unknown): Promise<void> {
    if (!GROUP_NAME.test(name)) throw new ShelfError('BAD_REQUEST', 400, `invalid group name "${name}"`);
    const group = parseInput(groupSchema, input);
    await this.checkUsers(group.members);
    await this.store.putGroup({ name, ...group });
    this.audit.record({ event: 'group.put', ...actor, target: name, members: group.members, result: 'ok' });
  }

  async deleteGroup(actor: Actor, name: string): Promise<void> {
    if (!(await this.store.deleteGroup(name))) throw new ShelfError('NOT_FOUND', 404, `group ${name} not found`);
    this.audit.record({ event: 'group.delete', ...actor, target: name, result: 'ok' });
  }

  async listPermissions(): Promise<(PermissionTarget & { source: 'config' | 'api' })[]> {
    return [
      ...this.config.security.permissions.map((t) => ({ ...t, source: 'config' as const })),
      ...(await this.store.listPermissionTargets()).map((t) => ({ ...t, source: 'api' as const })),
    ];
  }

  async putPermission(actor: Actor, name: string, input: unknown): Promise<PermissionTarget> {
    this.refuseConfigTarget(name);
    const target = parseInput(permissionTargetSchema, { ...(input as object), name });
    const unknown = unknownRepositories(target.repositories, this.config.repositories.map((r) => r.key));
    if (unknown.length > 0) throw new ShelfError('BAD_REQUEST', 400, `no repository ${unknown.join(', ')}`);
    await this.store.putPermissionTarget(target);
    this.audit.record({ event: 'permission.put', ...actor, target: name, definition: target, result: 'ok' });
    return target;
  }

  async deletePermission(actor: Actor, name: string): Promise<void> {
    this.refuseConfigTarget(name);
    if (!(await this.store.deletePermissionTarget(name))) throw new ShelfError('NOT_FOUND', 404, `permission target ${name} not found`);
    this.audit.record({ event: 'permission.delete', ...actor, target: name, result: 'ok' });
  }

  async listTokens(owner?: string) {
    return (await this.store.listTokens(owner)).map(describeToken);
  }

  /**
   * A new token for `username` (the value is in the answer, once). When the request's own credential is
   * narrowed (`by`, a scoped token), the new token stays within it: its scope by default, never wider, and
   * expiring no later.
   */
  async createToken(actor: Actor, username: string, input: unknown, by?: Principal) {
    const request = parseInput(tokenRequestSchema, input);
    let expiresAt = request.expiresInSeconds ? Date.now() + request.expiresInSeconds * 1000 : null;
    let scope = request.scope;
    if (by?.scope) {
      const own = by.scope.length === 1 && by.scope[0]!.subject === undefined ? by.scope[0]! : undefined;
      scope ??= own && { repositories: own.repositories, actions: own.actions };
      const repoOf = (key: string) => this.config.repositories.find((r) => r.key === key);
      if (!scope || !scopeWithin(scope, by.scope, repoOf)) {
        throw new ShelfError('FORBIDDEN', 403, 'a scoped token can only create tokens within its own scope');
      }
    }
    if (by?.expiresAt !== undefined && (expiresAt === null || expiresAt > by.expiresAt)) expiresAt = by.expiresAt;
    const issued = await this.identity.issueToken(username, request.description, expiresAt, scope).catch((err: Error) => {
      throw new ShelfError('NOT_FOUND', 404, err.message);
    });
    this.audit.record({ event: 'token.create', ...actor, target: username, tokenId: issued.record.id, result: 'ok' });
    return { token: issued.token, ...describeToken(issued.record) };
  }

  async revokeToken(actor: Actor, id: string, owner?: string): Promise<void> {
    const token = (await this.store.listTokens(owner)).find((t) => t.id === id);
    if (!token || !(await this.store.revokeToken(id, Date.now()))) throw new ShelfError('NOT_FOUND', 404, `no active token ${id}`);
    this.audit.record({ event: 'token.revoke', ...actor, target: token.username, tokenId: id, result: 'ok' });
  }

  private async checkGroups(groups: string[]): Promise<void> {
    const all = await this.store.listGroups();
    const missing = groups.filter((g) => !all.some((group) => group.name === g));
    if (missing.length > 0) throw new ShelfError('BAD_REQUEST', 400, `no group ${missing.join(', ')}`);
  }

  private async setGroupsOf(username: string, groups: string[]): Promise<void> {
    const all = await this.store.listGroups();
    for (const group of all) {
      const member = group.members.includes(username);
      const wanted = groups.includes(group.name);
      if (member === wanted) continue;
      const members = wanted ? [...group.members, username] : group.members.filter((m) => m !== username);
      await this.store.putGroup({ ...group, members });
    }
  }

  private async checkUsers(names: string[]): Promise<void> {
    const users = new Set((await this.store.listUsers()).map((u) => u.name));
    const missing = names.filter((n) => !USERNAME.test(n) || !users.has(n));
    if (missing.length > 0) throw new ShelfError('BAD_REQUEST', 400, `no user ${missing.join(', ')}`);
  }

  private refuseConfigTarget(name: string): void {
    if (this.config.security.permissions.some((t) => t.name === name)) {
      throw new ShelfError('CONFLICT', 409, `permission target ${name} is defined in the config file; change it there`);
    }
  }
}
