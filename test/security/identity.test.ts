import t, { type Test } from 'tap';
import { hashToken, Identity, parseAuthorization } from '../../src/security/identity.js';
import { hashPassword, verifyPassword } from '../../src/security/passwords.js';
import type { ShelfIndex } from '../../src/app.js';
import { eachIndexKind } from '../helpers/index-kinds.js';

t.test('passwords are salted scrypt hashes', async (t) => {
  const a = await hashPassword('correct horse');
  const b = await hashPassword('correct horse');
  t.match(a, /^scrypt\$131072\$8\$1\$/);
  t.not(a, b, 'salted');
  t.ok(await verifyPassword('correct horse', a));
  t.notOk(await verifyPassword('correct horse!', a));
  t.notOk(await verifyPassword('x', 'md5$abc'), 'unknown schemes never verify');
});

/** What users, tokens, groups and login throttling do, the same with either index. */
function identityTests(t: Test, index: ShelfIndex): void {
  const identity = new Identity(index);
  /** The principal an Authorization header proves, or undefined (no credentials, or invalid ones). */
  const authenticate = async (header: string | undefined) => {
    const credentials = parseAuthorization(header);
    return credentials && identity.authenticate(credentials);
  };
  const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

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

  t.test('login attempts back off after the free ones, and are forgotten after the window', async (t) => {
    const now = Date.now();
    const keys = [{ key: 'user:x@a', free: 2 }];
    const take = (at: number) => index.takeLoginAttempt(keys, at, 60_000, 8_000);
    t.same(await take(now), {});
    t.same(await take(now + 10), {});
    t.same(await take(now + 20), { retryAt: now + 10 + 1000 }, 'the third waits a second after the last');
    t.same(await take(now + 1010), {}, 'then it may');
    t.same(await take(now + 1020), { retryAt: now + 1010 + 2000 }, 'and the next waits twice as long');
    t.same(await take(now + 100_000), {}, 'the window passed: counting starts again');
    t.same(await take(now + 100_010), {});
    t.same(await take(now + 100_020), { retryAt: now + 100_010 + 1000 });
    await index.settleLoginAttempt([{ key: 'user:x@a', clear: false }], false, now + 100_500);
    t.same(await take(now + 101_000), { retryAt: now + 100_500 + 1000 }, 'a failed check backs off from its end');
    await index.settleLoginAttempt([{ key: 'user:x@a', clear: true }], true, now + 100_600);
    t.same(await take(now + 100_030), {}, 'a success clears the key');
    const both = [{ key: 'user:y@a', free: 5 }, { key: 'address:a', free: 1 }];
    t.same(await index.takeLoginAttempt(both, now, 60_000, 8_000), {});
    t.ok((await index.takeLoginAttempt(both, now + 1, 60_000, 8_000)).retryAt, 'any key backing off refuses');
    await index.settleLoginAttempt([{ key: 'user:y@a', clear: true }, { key: 'address:a', clear: false }], true, now + 1);
    t.same(await index.takeLoginAttempt(both, now + 2, 60_000, 8_000), {}, 'a success gives its attempt back to the address');
  });
}

await eachIndexKind(t, async (t, open) => identityTests(t, await open()));
