import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashToken, Identity, parseAuthorization } from '../../src/security/identity.js';
import { hashPassword, verifyPassword } from '../../src/security/passwords.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';

const dir = mkdtempSync(join(tmpdir(), 'shelf-identity-'));
const index = new SqliteIndex(join(dir, 'index.sqlite'));
t.teardown(async () => {
  await index.close();
  rmSync(dir, { recursive: true, force: true });
});
const identity = new Identity(index);
/** The principal an Authorization header proves, or undefined (no credentials, or invalid ones). */
const authenticate = async (header: string | undefined) => {
  const credentials = parseAuthorization(header);
  return credentials && identity.authenticate(credentials);
};
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
  t.same(await authenticate(basic('alice', 'pw-alice')), { username: 'alice', admin: false, groups: [] });
  t.equal(await authenticate(basic('alice', 'wrong')), undefined);
});

t.test('tokens: stored hashed, accepted as Bearer or as a Basic password, revocable, expiring', async (t) => {
  await identity.addUser({ name: 'ci-bot', password: null });
  t.equal(await identity.checkPassword('ci-bot', ''), undefined, 'a service account has no password');
  const { token, record } = await identity.issueToken('ci-bot', 'pipeline');
  t.match(token, /^shelf_[A-Za-z0-9_-]{43}$/);
  const stored = await index.findToken(hashToken(token));
  t.equal(stored?.id, record.id);
  t.notOk(JSON.stringify(await index.listTokens()).includes(token), 'the token value itself is stored nowhere');

  t.same(await authenticate(`Bearer ${token}`), { username: 'ci-bot', admin: false, groups: [], tokenId: record.id });
  t.same(await authenticate(basic('ci-bot', token)), { username: 'ci-bot', admin: false, groups: [], tokenId: record.id });
  t.equal(await authenticate(basic('alice', token)), undefined, 'a token is only good for its own user');
  t.ok((await index.findToken(hashToken(token)))?.lastUsedAt, 'last use recorded');

  t.ok(await identity.revokeTokenValue(token));
  t.equal(await authenticate(`Bearer ${token}`), undefined, 'revoked');
  t.notOk(await identity.revokeTokenValue(token), 'revoking twice reports nothing to revoke');

  const expired = await identity.issueToken('ci-bot', 'old', Date.now() - 1000);
  t.equal(await authenticate(`Bearer ${expired.token}`), undefined, 'expired');
  const disabled = await identity.issueToken('alice', 'soon disabled');
  await index.putUser({ ...(await index.getUser('alice'))!, disabled: true });
  t.equal(await authenticate(`Bearer ${disabled.token}`), undefined, 'a disabled user\'s tokens stop working');
  t.equal(await identity.checkPassword('alice', 'pw-alice'), undefined, 'and so does the password');
  await t.rejects(identity.issueToken('nobody', 'x'), /no user/);
});

t.test('group memberships and token scopes come with the principal', async (t) => {
  await identity.addUser({ name: 'dora', password: 'pw-dora' });
  await index.putGroup({ name: 'devs', description: '', members: ['dora'] });
  t.same((await authenticate(basic('dora', 'pw-dora')))?.groups, ['devs']);
  const scope = { repositories: ['npm-local'], actions: ['read' as const] };
  const { token } = await identity.issueToken('dora', 'scoped', Date.now() + 60_000, scope);
  t.match(await authenticate(`Bearer ${token}`), { username: 'dora', groups: ['devs'], scope: [scope], expiresAt: Number });
  t.equal(parseAuthorization('Digest abc'), undefined);
});

t.test('every change to users, groups, targets or token validity moves the security revision', async (t) => {
  const before = await index.securityRevision();
  await index.putPermissionTarget({ name: 'x', repositories: ['ANY'], includes: ['**'], excludes: [], anonymous: ['read'], users: {}, groups: {} });
  const afterTarget = await index.securityRevision();
  t.ok(afterTarget > before, 'permission target');
  const { record } = await identity.issueToken('dora', 'r');
  await index.touchToken(record.id, Date.now());
  t.equal(await index.securityRevision(), afterTarget, 'recording a token\'s use is no change');
  await index.revokeToken(record.id, Date.now());
  t.ok((await index.securityRevision()) > afterTarget, 'revocation');
});

t.test('login failures count within their window', async (t) => {
  const now = Date.now();
  t.equal(await index.recordLoginFailure('user:x', now, 1000), 1);
  t.equal(await index.recordLoginFailure('user:x', now + 10, 1000), 2);
  t.equal(await index.loginFailures('user:x', now + 20, 1000), 2);
  t.equal(await index.loginFailures('user:x', now + 2000, 1000), 0, 'the window passed');
  t.equal(await index.recordLoginFailure('user:x', now + 2000, 1000), 1, 'and counting starts again');
  await index.clearLoginFailures('user:x');
  t.equal(await index.loginFailures('user:x', now + 2000, 1000), 0);
});
