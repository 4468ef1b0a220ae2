import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { JwtSigner, loadOrCreateSigningKey } from '../../src/security/jwt.js';

t.test('a token verifies for its audience until it expires; anything altered does not', async (t) => {
  const signer = new JwtSigner(Buffer.alloc(32, 1));
  const { token } = signer.sign('alice', 'shelf', 60, { grants: [1] });
  t.match(signer.verify(token, 'shelf'), { sub: 'alice', aud: 'shelf', iss: 'shelf', grants: [1] });
  t.equal(signer.verify(token, 'other'), undefined, 'another audience');
  t.equal(new JwtSigner(Buffer.alloc(32, 2)).verify(token, 'shelf'), undefined, 'another key');
  const [header, body, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(body!, 'base64url').toString());
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
  t.equal(signer.verify(`${header}.${forged}.${signature}`, 'shelf'), undefined, 'changed claims');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  t.equal(signer.verify(`${none}.${body}.`, 'shelf'), undefined, 'alg none');
  t.equal(signer.verify(`${none}.${body}.${signature}`, 'shelf'), undefined, 'another header');
  const expired = signer.sign('alice', 'shelf', -10, {}).token;
  t.equal(signer.verify(expired, 'shelf'), undefined, 'expired');
});

t.test('the signing key is made once, readable by its owner only, and kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-jwt-'));
  t.teardown(() => void 0);
  const file = join(dir, 'security', 'jwt.key');
  const first = await loadOrCreateSigningKey(file);
  t.equal(first.length, 32);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(await loadOrCreateSigningKey(file), first, 'the same key on the next start');
  writeFileSync(file, 'c2hvcnQ=');
  await t.rejects(loadOrCreateSigningKey(file), /at least 32 bytes/);
  t.equal(readFileSync(file, 'utf8'), 'c2hvcnQ=', 'a bad key is reported, not replaced');
});
