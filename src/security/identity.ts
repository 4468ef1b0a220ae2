import { createHash, randomBytes } from 'node:crypto';
import type { IdentityStore, TokenRecord, UserRecord } from '../storage/identity-store.js';
import { hashPassword, verifyPassword } from './passwords.js';

/** Who is calling, once their credentials have been checked. */
export interface Principal {
  username: string;
  admin: boolean;
  /** The token that authenticated the request, when it was a token. */
  tokenId?: string;
}

const TOKEN_PREFIX = 'shelf_';
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A precomputed hash to verify against when the user does not exist, so both answers take as long. */
let decoyHash: Promise<string> | undefined;

/**
 * Users and API tokens: password checks, token issue and revocation, and turning an Authorization header
 * (Basic user:password or user:token, Bearer token) into a Principal.
 */
export class Identity {
  constructor(private readonly store: IdentityStore) {}

  async addUser(options: { name: string; password: string | null; email?: string; admin?: boolean }): Promise<UserRecord> {
    if (!USERNAME.test(options.name)) throw new Error(`invalid user name "${options.name}": lower-case letters, digits, ".", "_", "-"`);
    if (await this.store.getUser(options.name)) throw new Error(`user ${options.name} already exists`);
    const user: UserRecord = {
      name: options.name,
      passwordHash: options.password === null ? null : await hashPassword(options.password),
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
      await verifyPassword(password, await (decoyHash ??= hashPassword('decoy')));
      return undefined;
    }
    return (await verifyPassword(password, user.passwordHash)) && !user.disabled ? user : undefined;
  }

  /** A new token for the user; the token itself is returned once and only its hash is kept. */
  async issueToken(username: string, description: string, expiresAt: number | null = null): Promise<{ token: string; record: TokenRecord }> {
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
    };
    await this.store.putToken(record);
    return { token, record };
  }

  /** Revokes a token given by its value (npm logout), if it is a live one. */
  async revokeTokenValue(token: string): Promise<boolean> {
    const record = await this.store.findToken(hashToken(token));
    return record !== undefined && this.store.revokeToken(record.id, Date.now());
  }

  /** The principal behind an Authorization header, or undefined when it names no valid credentials. */
  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    if (!authorization) return undefined;
    const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
    if (/^bearer$/i.test(scheme ?? '')) return this.tokenPrincipal(value);
    if (!/^basic$/i.test(scheme ?? '')) return undefined;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const [name, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    if (secret.startsWith(TOKEN_PREFIX)) {
      const principal = await this.tokenPrincipal(secret);
      return principal?.username === name ? principal : undefined;
    }
    const user = await this.checkPassword(name, secret);
    return user && { username: user.name, admin: user.admin };
  }

  private async tokenPrincipal(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const record = await this.store.findToken(hashToken(token));
    const now = Date.now();
    if (!record || record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= now)) return undefined;
    const user = await this.store.getUser(record.username);
    if (!user || user.disabled) return undefined;
    await this.store.touchToken(record.id, now);
    return { username: user.name, admin: user.admin, tokenId: record.id };
  }
}
