import type { Action, PermissionTarget } from '../security/permissions.js';

/** A user who can log in with a password (people) or only with tokens (robots: no password). */
export interface UserRecord {
  name: string;
  /** scrypt hash (see security/passwords.ts); null for service accounts, which use tokens only. */
  passwordHash: string | null;
  email?: string;
  admin: boolean;
  disabled: boolean;
  createdAt: number;
}

/** An API token; only its sha256 is stored, so a leaked index does not leak working tokens. */
export interface TokenRecord {
  id: string;
  hash: string;
  username: string;
  description: string;
  /** What the token may do at most, whatever its user may; absent: all its user may. */
  scope?: TokenScope;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface TokenScope {
  repositories: string[];
  actions: Action[];
}

export interface GroupRecord {
  name: string;
  description: string;
  members: string[];
}

/** Where users and tokens are kept: beside the metadata index, in the same database. */
export interface IdentityStore {
  getUser(name: string): Promise<UserRecord | undefined>;
  /** Creates the user, or replaces the one with that name. */
  putUser(user: UserRecord): Promise<void>;
  listUsers(): Promise<UserRecord[]>;
  putToken(token: TokenRecord): Promise<void>;
  findToken(hash: string): Promise<TokenRecord | undefined>;
  touchToken(id: string, at: number): Promise<void>;
  /** False when there is no such token or it is already revoked. */
  revokeToken(id: string, at: number): Promise<boolean>;
  listTokens(username?: string): Promise<TokenRecord[]>;
  /** Removes the user, their tokens and group memberships; false when there was no such user. */
  deleteUser(name: string): Promise<boolean>;
  /** Creates or replaces the group and its member list. */
  putGroup(group: GroupRecord): Promise<void>;
  deleteGroup(name: string): Promise<boolean>;
  listGroups(): Promise<GroupRecord[]>;
  groupsOf(username: string): Promise<string[]>;
  putPermissionTarget(target: PermissionTarget): Promise<void>;
  deletePermissionTarget(name: string): Promise<boolean>;
  listPermissionTargets(): Promise<PermissionTarget[]>;
  /** Grows on every change to users, groups, permission targets or token validity, so caches know when to drop. */
  securityRevision(): Promise<number>;
  /**
   * Counts a failed login under `key` and returns the failures within the window that ends now; a window
   * older than `windowMs` starts again at one.
   */
  recordLoginFailure(key: string, at: number, windowMs: number): Promise<number>;
  /** Failures counted under `key` within the window ending at `at`. */
  loginFailures(key: string, at: number, windowMs: number): Promise<number>;
  clearLoginFailures(key: string): Promise<void>;
}
