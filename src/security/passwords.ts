import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptTask } from '../workers/scrypt-task.js';

/** scrypt with OWASP's minimum cost (N=2^17, r=8, p=1): about 100 ms and 128 MiB per hash. */
const COST = { N: 2 ** 17, r: 8, p: 1 };
const KEY_BYTES = 32;

/** Computes scrypt; where the work runs is the caller's choice (see PasswordChecks for the server's). */
export type Deriver = (task: ScryptTask) => Promise<Uint8Array>;

/** libuv's thread pool: fine for the CLI and tests; the server uses its own thread instead. */
export const deriveOnLibuv: Deriver = ({ password, salt, keyBytes, options }) =>
  new Promise((resolve, reject) => scrypt(password, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key))));

const task = (password: string, salt: Buffer, cost: typeof COST): ScryptTask => ({
  password: password.normalize('NFKC'),
  salt,
  keyBytes: KEY_BYTES,
  options: { ...cost, maxmem: 256 * cost.N * cost.r },
});

/** `scrypt$N$r$p$<salt b64>$<key b64>`: the cost travels with the hash, so it can be raised later. */
export async function hashPassword(password: string, derive: Deriver = deriveOnLibuv): Promise<string> {
  const salt = randomBytes(16);
  const key = Buffer.from(await derive(task(password, salt, COST)));
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string, derive: Deriver = deriveOnLibuv): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = Buffer.from(await derive(task(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) })));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A password an administrator is shown once (24 random bytes, URL-safe). */
export const generatePassword = () => randomBytes(24).toString('base64url');
