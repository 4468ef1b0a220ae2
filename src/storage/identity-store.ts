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
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
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
}
