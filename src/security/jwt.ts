import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export interface JwtClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  [claim: string]: unknown;
}

/**
 * Short-lived JSON Web Tokens (HS256) that Shelf issues and alone verifies: the Docker token service's
 * bearer tokens. Clients treat them as opaque, so a shared secret is enough and no key is ever published.
 */
export class JwtSigner {
  constructor(
    private readonly key: Buffer,
    private readonly issuer = 'shelf',
  ) {}

  sign(subject: string, audience: string, ttlSeconds: number, claims: Record<string, unknown>): { token: string; claims: JwtClaims } {
    const now = Math.floor(Date.now() / 1000);
    const body: JwtClaims = {
      ...claims,
      iss: this.issuer,
      sub: subject,
      aud: audience,
      iat: now,
      nbf: now - 5,
      exp: now + ttlSeconds,
      jti: randomBytes(12).toString('base64url'),
    };
    const signed = `${HEADER}.${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
    return { token: `${signed}.${this.signature(signed)}`, claims: body };
  }

  /** The claims of a token this signer issued for `audience` that is valid now; undefined for anything else. */
  verify(token: string, audience: string): JwtClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return undefined;
    const expected = Buffer.from(this.signature(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: JwtClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as JwtClaims;
    } catch {
      return undefined;
    }
    const now = Math.floor(Date.now() / 1000);
    const valid = claims.iss === this.issuer && claims.aud === audience && claims.nbf <= now && now < claims.exp;
    return valid && typeof claims.sub === 'string' ? claims : undefined;
  }

  private signature(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}

export const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);

/**
 * The signing key: read from `file`, or made on first start (32 random bytes) and written there readable by
 * Shelf's user only. Creation is exclusive, so concurrent starters agree on one key.
 */
export async function loadOrCreateSigningKey(file: string): Promise<Buffer> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  await chmod(file, 0o600);
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length < 32) throw new Error(`${file} does not hold a signing key of at least 32 bytes (base64)`);
  return key;
}
