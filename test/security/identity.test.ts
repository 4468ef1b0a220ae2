import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashToken, Identity } from '../../src/security/identity.js';
import { hashPassword, verifyPassword } from '../../src/security/passwords.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';

const dir = mkdtempSync(join(tmpdir(), 'shelf-identity-'));
const index = new SqliteIndex(join(dir, 'index.sqlite'));
t.teardown(async () => {
  await index.close();
  rmSync(dir, { recursive: true, force: true });
});
const identity = new Identity(index);
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

t.test('passwords are salted scrypt hashes', async (t) => {
  const a = await hashPassword('correct horse');
  const b = await hashPassword('correct horse');
  t.match(a, /^scrypt\$131072\$8\$1\$/);
  t.not(a, b, 'salted');
  t.ok(await verifyPassword('correct horse', a));
  t.notOk(await verifyPassword('correct horse!', a));
  t.notOk(await verifyPassword('x', 'md5$abc'), 'unknown schemes never verify');
});

t.test('users log in with a password; an unknown user and a wrong password look the same', async (t) => {
  await identity.addUser({ name: 'alice', password: 'pw-alice', email: 'alice@example.org' });
  await t.rejects(identity.addUser({ name: 'alice', password: 'x' }), /already exists/);
  await t.rejects(identity.addUser({ name: 'Bad Name', password: 'x' }), /invalid user name/);
  t.equal((await identity.checkPassword('alice', 'pw-alice'))?.name, 'alice');
  t.equal(await identity.checkPassword('alice', 'wrong'), undefined);
  t.equal(await identity.checkPassword('nobody', 'pw-alice'), undefined);
  t.same(await identity.authenticate(basic('alice', 'pw-alice')), { username: 'alice', admin: false });
  t.equal(await identity.authenticate(basic('alice', 'wrong')), undefined);
  t.equal(await identity.authenticate('Digest abc'), undefined);
  t.equal(await identity.authenticate(undefined), undefined);
});

t.test('tokens: stored hashed, accepted as Bearer or as a Basic password, revocable, expiring', async (t) => {
  await identity.addUser({ name: 'ci-bot', password: null });
  t.equal(await identity.checkPassword('ci-bot', ''), undefined, 'a service account has no password');
  const { token, record } = await identity.issueToken('ci-bot', 'pipeline');
  t.match(token, /^shelf_[A-Za-z0-9_-]{43}$/);
  const stored = await index.findToken(hashToken(token));
  t.equal(stored?.id, record.id);
  t.notOk(JSON.stringify(await index.listTokens()).includes(token), 'the token value itself is stored nowhere');

  t.same(await identity.authenticate(`Bearer ${token}`), { username: 'ci-bot', admin: false, tokenId: record.id });
  t.same(await identity.authenticate(basic('ci-bot', token)), { username: 'ci-bot', admin: false, tokenId: record.id });
  t.equal(await identity.authenticate(basic('alice', token)), undefined, 'a token is only good for its own user');
  t.ok((await index.findToken(hashToken(token)))?.lastUsedAt, 'last use recorded');

  t.ok(await identity.revokeTokenValue(token));
  t.equal(await identity.authenticate(`Bearer ${token}`), undefined, 'revoked');
  t.notOk(await identity.revokeTokenValue(token), 'revoking twice reports nothing to revoke');

  const expired = await identity.issueToken('ci-bot', 'old', Date.now() - 1000);
  t.equal(await identity.authenticate(`Bearer ${expired.token}`), undefined, 'expired');
  const disabled = await identity.issueToken('alice', 'soon disabled');
  await index.putUser({ ...(await index.getUser('alice'))!, disabled: true });
  t.equal(await identity.authenticate(`Bearer ${disabled.token}`), undefined, 'a disabled user\'s tokens stop working');
  t.equal(await identity.checkPassword('alice', 'pw-alice'), undefined, 'and so does the password');
  await t.rejects(identity.issueToken('nobody', 'x'), /no user/);
});
