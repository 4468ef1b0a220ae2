import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A short, stable name of a public key (sha256 of its DER), shown in messages and written into bundles. */
export function keyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Makes the Ed25519 key `shelf export` signs bundles with (0600); refuses to replace an existing one. */
export async function createSigningKey(file: string): Promise<KeyObject> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EEXIST' ? new Error(`${file} exists already; a signing key is never replaced (importers trust it)`) : err;
  });
  return publicKey;
}

export async function loadSigningKey(file: string): Promise<KeyObject> {
  const pem = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? new Error(`no bundle signing key at ${file}; make one with shelf keys create`) : err;
  });
  return createPrivateKey(pem);
}

export const publicKeyOf = (privateKey: KeyObject): KeyObject => createPublicKey(privateKey);

export const publicKeyPem = (publicKey: KeyObject): string => publicKey.export({ type: 'spki', format: 'pem' }).toString();

export async function loadPublicKey(file: string): Promise<KeyObject> {
  return createPublicKey(await readFile(file, 'utf8'));
}

export const signBytes = (data: Buffer, privateKey: KeyObject): string => sign(null, data, privateKey).toString('base64');

/** The trusted key the signature was made with, if any. */
export function verifiedBy(data: Buffer, signature: string, trusted: KeyObject[]): KeyObject | undefined {
  const bytes = Buffer.from(signature, 'base64');
  return trusted.find((key) => verify(null, data, key, bytes));
}
