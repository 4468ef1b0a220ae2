import { createHash, randomBytes } from 'node:crypto';
import type { IdentityStore, TokenRecord, TokenScope, UserRecord } from '../storage/identity-store.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { Principal } from './permissions.js';

/** Credentials an Authorization header carried, before they are checked. */
export type Credentials =
  | { kind: 'password'; username: string; password: string }
  | { kind: 'token'; username?: string; token: string };

const TOKEN_PREFIX = 'shelf_';
export const TOKEN_USERNAME = '__token__';
export const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** How often a token's `lastUsedAt` is written, at most: not on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A precomputed hash to verify against when the user does not exist, so both answers take as long. */
let decoyHash: Promise<string> | undefined;

/**
 * Users and API tokens: password checks, token issue and revocation, and turning an Authorization header
 * (Basic user:password or user:token, Bearer token) into a Principal.
 */
export class Identity {
  constructor(
    private readonly store: IdentityStore,
    /** How a password is checked against its hash: the server passes its PasswordChecks' `verify`. */
    private readonly verify: (password: string, stored: string) => Promise<boolean> = verifyPassword,
    /** How a new password is hashed: the server passes its PasswordChecks' `hash` (scrypt off the file-serving pool). */
    readonly hash: (password: string) => Promise<string> = (password) => hashPassword(password),
  ) {}

  async addUser(options: { name: string; password: string | null; email?: string; admin?: boolean }): Promise<UserRecord> {
    if (!USERNAME.test(options.name)) throw new Error(`invalid user name "${options.name}": lower-case letters, digits, ".", "_", "-"`);
    if (await this.store.getUser(options.name)) throw new Error(`user ${options.name} already exists`);
    const user: UserRecord = {
      name: options.name,
      passwordHash: options.password === null ? null : await this.hash(options.password),
      ...(options.email && { email: options.email }),
      admin: options.admin ?? false,
      disabled: false,
      createdAt: Date.now(),
    };
    await this.store.putUser(user);
    return user;
  }

  /** The user, when the name and password match an enabled user with a password; otherwise undefined. */
  async checkPassword(name: string, password: string): Promise<UserRecord | undefined> {
    const user = await this.store.getUser(name);
    if (!user?.passwordHash) {
      // Spend the same time as a real check, so a wrong name cannot be told from a wrong password.
      await this.verify(password, await (decoyHash ??= this.hash('decoy')));
      return undefined;
    }
    return (await this.verify(password, user.passwordHash)) && !user.disabled ? user : undefined;
  }

  /** A new token for the user; the token itself is returned once and only its hash is kept. */
  async issueToken(
    username: string,
    description: string,
    expiresAt: number | null = null,
    scope?: TokenScope,
  ): Promise<{ token: string; record: TokenRecord }> {
    if (!(await this.store.getUser(username))) throw new Error(`no user ${username}`);
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      id: randomBytes(6).toString('hex'),
      hash: hashToken(token),
      username,
      description,
      createdAt: Date.now(),
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      ...(scope && { scope }),
    };
    await this.store.putToken(record);
    return { token, record };
  }

  /** Revokes a token given by its value (npm logout), if it is a live one; returns its record. */
  async revokeTokenValue(token: string): Promise<TokenRecord | undefined> {
    const record = await this.store.findToken(hashToken(token));
    return record && (await this.store.revokeToken(record.id, Date.now())) ? record : undefined;
  }

  /** The principal a user's password or token proves, or undefined when the credentials are not valid. */
  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    if (credentials.kind === 'token') {
      const principal = await this.tokenPrincipal(credentials.token);
      // `__token__` is PyPI's user name for token logins (twine -u __token__); any other must be the token's user.
      const named = credentials.username === undefined || credentials.username === TOKEN_USERNAME;
      return named || principal?.username === credentials.username ? principal : undefined;
    }
    const user = await this.checkPassword(credentials.username, credentials.password);
    return user && this.principalOf(user);
  }

  /** The principal of an enabled user (a Docker token's subject), without checking credentials. */
  async principalFor(username: string): Promise<Principal | undefined> {
    const user = await this.store.getUser(username);
    return user && !user.disabled ? this.principalOf(user) : undefined;
  }

  private async principalOf(user: UserRecord, token?: TokenRecord): Promise<Principal> {
    return {
      username: user.name,
      admin: user.admin,
      groups: await this.store.groupsOf(user.name),
      ...(token && { tokenId: token.id }),
      ...(token?.scope && { scope: [token.scope] }),
      ...(token?.expiresAt != null && { expiresAt: token.expiresAt }),
    };
  }

  private async tokenPrincipal(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const record = await this.store.findToken(hashToken(token));
    const now = Date.now();
    if (!record || record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= now)) return undefined;
    const user = await this.store.getUser(record.username);
    if (!user || user.disabled) return undefined;
    if (record.lastUsedAt === null || now - record.lastUsedAt >= TOUCH_INTERVAL_MS) await this.store.touchToken(record.id, now);
    return this.principalOf(user, record);
  }
}

/** What an Authorization header claims (Basic user:password, Basic user:token, Bearer token), unchecked. */
export function parseAuthorization(authorization: string | undefined): Credentials | undefined {
  if (!authorization) return undefined;
  const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme ?? '')) return { kind: 'token', token: value };
  if (!/^basic$/i.test(scheme ?? '')) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const [username, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  return secret.startsWith(TOKEN_PREFIX) ? { kind: 'token', username, token: secret } : { kind: 'password', username, password: secret };
}
