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

export interface LoginThrottleKey {
  key: string;
  /** Attempts before backing off. */
  free: number;
}

export interface GroupRecord {
  name: string;
  description: string;
  members: string[];
}

export interface SessionRecord {
  hash: string;
  username: string;
  createdAt: number;
  expiresAt: number;
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
  /** A web UI sign-in, by the hash of its cookie; expired ones are removed here too. */
  putSession(session: SessionRecord): Promise<void>;
  /** The user of a session that has not expired at `at`. */
  findSession(hash: string, at: number): Promise<string | undefined>;
  deleteSession(hash: string): Promise<void>;
  deleteSessionsOf(username: string): Promise<void>;
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
   * Takes a login attempt under every key, before the credential is checked (so concurrent guesses cannot
   * all pass one check of the count). A key that has used its `free` attempts backs off: the next one is
   * allowed `2^(attempts - free)` seconds after the last, at most `maxDelayMs`; attempts older than
   * `windowMs` are forgotten. When any key is backing off nothing is counted and the answer says until when.
   */
  takeLoginAttempt(keys: LoginThrottleKey[], at: number, windowMs: number, maxDelayMs: number): Promise<{ retryAt?: number }>;
  /**
   * The check of a taken attempt ended. A failure's back-off runs from now (the end of the check). A success
   * gives its attempt back under each key, or drops the key's count (`clear`).
   */
  settleLoginAttempt(keys: { key: string; clear: boolean }[], succeeded: boolean, at: number): Promise<void>;
}
