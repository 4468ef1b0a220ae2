import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { runTool } from '../../helpers/run-tool.js';
import { startShelf } from '../../helpers/shelf.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('root', 'root-password');

const shelf = await startShelf({
  repositories: [
    { key: 'files', format: 'generic', type: 'local' },
    { key: 'open-files', format: 'generic', type: 'local' },
    { key: 'files-remote', format: 'generic', type: 'remote', url: 'http://127.0.0.1:9/' },
  ],
  security: {
    permissions: [{ name: 'public', repositories: ['open-files'], anonymous: ['read'] }],
    loginThrottle: { maxFailuresPerUser: 3, maxFailuresPerAddress: 12, windowSeconds: 60 },
  },
});
t.teardown(() => shelf.stop());
await new Identity(shelf.app.index).addUser({ name: 'root', password: 'root-password', admin: true });

const api = async (method: string, path: string, body?: unknown, authorization = ADMIN) => {
  const response = await fetch(`${shelf.url}${path}`, {
    method,
    headers: { authorization, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
};

/** curl, the generic client: status code only. */
const curl = async (...args: string[]) => {
  const result = await runTool('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args], { PATH: process.env.PATH });
  return Number(result.stdout);
};

t.test('an administrator sets up users, a group and a permission target through the REST API', async (t) => {
  t.equal((await api('PUT', '/api/security/users/writer', { password: 'writer-password', email: 'w@example.com' })).status, 201);
  t.equal((await api('PUT', '/api/security/users/reader', { password: 'reader-password' })).status, 201);
  t.equal((await api('PUT', '/api/security/users/ci-robot', { password: null })).status, 201);
  t.equal((await api('PUT', '/api/security/groups/writers', { description: 'deployers', members: ['writer', 'ci-robot'] })).status, 200);
  const target = await api('PUT', '/api/security/permissions/files-access', {
    repositories: ['files', 'open-files'],
    includes: ['**'],
    excludes: ['private/**'],
    users: { reader: ['read'] },
    groups: { writers: ['read', 'write', 'delete'] },
  });
  t.equal(target.status, 200);
  t.same(target.body.excludes, ['private/**']);
  const users = (await api('GET', '/api/security/users')).body as { name: string; groups: string[]; passwordLogin: boolean }[];
  t.same(users.find((u) => u.name === 'writer')?.groups, ['writers']);
  t.equal(users.find((u) => u.name === 'ci-robot')?.passwordLogin, false);
  t.notMatch(JSON.stringify(users), /scrypt|passwordHash/, 'no password hashes in answers');
  const permissions = (await api('GET', '/api/security/permissions')).body as { name: string; source: string }[];
  t.same(permissions.map((p) => `${p.name}:${p.source}`), ['public:config', 'files-access:api']);
  t.equal((await api('PUT', '/api/security/permissions/public', { repositories: ['files'] })).status, 409, 'config targets are changed in the config');
  t.equal((await api('PUT', '/api/security/permissions/bad', { repositories: ['nope'] })).status, 400);
  t.equal((await api('PUT', '/api/security/users/Bad%20Name', { password: 'x' })).status, 400, 'an invalid user name');
  t.equal((await api('PUT', '/api/security/users/new-user', { password: 'x', admin: 'yes' })).status, 400, 'a field of the wrong type');
  t.equal((await api('PUT', '/api/security/groups/writers', 'members')).status, 400, 'a body that is not an object');
  t.equal((await api('GET', '/api/security/users', undefined, basic('writer', 'writer-password'))).status, 403, 'administrators only');
  t.equal((await api('GET', '/api/security/users', undefined, '')).status, 401);
});

t.test('generic deploys with curl: 401 with a Basic challenge, 403 read-only, 201 for a writer', async (t) => {
  const file = join(shelf.dataDir, '..', 'shelf-security-upload.txt');
  await runTool('sh', ['-c', `echo hello > ${file}`], { PATH: process.env.PATH });
  const anonymous = await fetch(`${shelf.url}/files/a/hello.txt`, { method: 'PUT', body: 'hello' });
  t.equal(anonymous.status, 401);
  t.match(anonymous.headers.get('www-authenticate'), /^Basic realm="Shelf"/);
  t.equal(await curl('-T', file, `${shelf.url}/files/a/hello.txt`), 401);
  t.equal(await curl('-u', 'reader:reader-password', '-T', file, `${shelf.url}/files/a/hello.txt`), 403);
  t.equal(await curl('-u', 'writer:writer-password', '-T', file, `${shelf.url}/files/a/hello.txt`), 201);
  t.equal(await curl('-u', 'writer:writer-password', '-T', file, `${shelf.url}/files/private/key.txt`), 403, 'excluded path');
  t.equal(await curl('-u', 'writer:writer-password', '-T', file, `${shelf.url}/open-files/hello.txt`), 201);
  t.equal(await curl('-u', 'reader:reader-password', `${shelf.url}/files/a/hello.txt`), 200);
  t.equal(await curl(`${shelf.url}/files/a/hello.txt`), 401, 'anonymous read is off here');
  t.equal(await curl(`${shelf.url}/open-files/hello.txt`), 200, 'and granted here');
  t.equal(await curl('-u', 'reader:reader-password', '-X', 'DELETE', `${shelf.url}/files/a/hello.txt`), 403);
  t.equal(await curl('-u', 'writer:writer-password', '-X', 'PUT', `${shelf.url}/api/storage/files/a/hello.txt?properties=a=b`), 403, 'annotate not granted');
  t.equal(await curl('-u', 'writer:writer-password', '-T', file, `${shelf.url}/files-remote/x.txt`), 405, 'a remote is read-only, even to writers');
});

t.test('listings show only what the caller may read', async (t) => {
  const keys = async (authorization: string) => ((await api('GET', '/api/repositories', undefined, authorization)).body as { key: string }[]).map((r) => r.key);
  t.same(await keys(''), ['open-files']);
  t.same(await keys(basic('reader', 'reader-password')), ['files', 'open-files']);
  t.same(await keys(ADMIN), ['files', 'open-files', 'files-remote']);
  const found = await api('GET', '/api/search/checksum?sha256=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03', undefined, '');
  t.same(found.body.results.map((r: { repo: string }) => r.repo), ['open-files'], 'checksum search hides files/a/hello.txt');
});

t.test('API tokens: scoped, expiring, revocable', async (t) => {
  const writer = basic('writer', 'writer-password');
  const created = await api('POST', '/api/security/token', { description: 'ci', scope: { repositories: ['open-files'], actions: ['read', 'write'] } }, writer);
  t.equal(created.status, 201);
  t.match(created.body, { username: 'writer', description: 'ci', state: 'active', token: /^shelf_/ });
  t.notOk('hash' in created.body);
  const token = created.body.token as string;
  t.equal(await curl('-H', `Authorization: Bearer ${token}`, '-T', '/etc/hostname', `${shelf.url}/open-files/ci.txt`), 201);
  t.equal(await curl('-u', `writer:${token}`, '-T', '/etc/hostname', `${shelf.url}/open-files/ci2.txt`), 201, 'as a Basic password');
  t.equal(await curl('-H', `Authorization: Bearer ${token}`, '-T', '/etc/hostname', `${shelf.url}/files/ci.txt`), 403, 'outside its scope');
  t.equal((await api('POST', '/api/security/token', { username: 'reader' }, writer)).status, 403, 'only administrators make tokens for others');

  const robot = await api('POST', '/api/security/token', { username: 'ci-robot', description: 'pipeline' });
  t.equal(robot.status, 201);
  t.equal(await curl('-u', `ci-robot:${robot.body.token}`, '-T', '/etc/hostname', `${shelf.url}/files/robot.txt`), 201, 'a service account deploys with its token');
  t.equal(await curl('-u', 'ci-robot:', `${shelf.url}/files/robot.txt`), 401, 'and has no password');

  const listed = (await api('GET', '/api/security/token', undefined, writer)).body as { id: string; lastUsedAt: number | null }[];
  t.equal(listed.length, 1, 'a user sees their own tokens');
  t.ok(listed[0]!.lastUsedAt, 'last use recorded');
  t.equal((await api('DELETE', `/api/security/token/${robot.body.id}`, undefined, writer)).status, 404, 'not someone else\'s token');
  t.equal((await api('DELETE', `/api/security/token/${created.body.id}`, undefined, writer)).status, 204);
  t.equal(await curl('-H', `Authorization: Bearer ${token}`, `${shelf.url}/open-files/ci.txt`), 401, 'revoked: refused at once');

  const shortLived = await api('POST', '/api/security/token', { expiresInSeconds: 1 }, writer);
  t.equal(await curl('-H', `Authorization: Bearer ${shortLived.body.token}`, `${shelf.url}/files/a/hello.txt`), 200);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.equal(await curl('-H', `Authorization: Bearer ${shortLived.body.token}`, `${shelf.url}/files/a/hello.txt`), 401, 'expired');

  const form = await fetch(`${shelf.url}/api/security/token`, {
    method: 'POST',
    headers: { authorization: ADMIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'username=reader&scope=files:read&expires_in=3600',
  });
  t.equal(form.status, 201, "Artifactory's form fields");
  t.match(await form.json(), { username: 'reader', scope: { repositories: ['files'], actions: ['read'] } });
});

t.test('a disabled or deleted user is refused at once', async (t) => {
  t.equal((await api('PUT', '/api/security/users/reader', { disabled: true })).status, 200);
  t.equal(await curl('-u', 'reader:reader-password', `${shelf.url}/files/a/hello.txt`), 401);
  t.equal((await api('PUT', '/api/security/users/reader', { disabled: false })).status, 200);
  t.equal(await curl('-u', 'reader:reader-password', `${shelf.url}/files/a/hello.txt`), 200);
  t.equal((await api('DELETE', '/api/security/users/reader')).status, 204);
  t.equal(await curl('-u', 'reader:reader-password', `${shelf.url}/files/a/hello.txt`), 401);
});

t.test('failed logins: identical answers, then throttled per user and per address', async (t) => {
  const attempt = async (user: string, password: string) => {
    const r = await fetch(`${shelf.url}/files/a/hello.txt`, { headers: { authorization: basic(user, password) } });
    return { status: r.status, body: await r.text(), challenge: r.headers.get('www-authenticate') };
  };
  const unknown = await attempt('nobody', 'guess');
  const wrong = await attempt('writer', 'guess');
  t.same(unknown, wrong, 'an unknown user and a wrong password get the same answer');
  t.equal(wrong.status, 401);
  await attempt('writer', 'guess-2');
  await attempt('writer', 'guess-3');
  const throttled = await attempt('writer', 'writer-password');
  t.equal(throttled.status, 429, 'the right password waits too, while this address backs off for the user');
  t.equal((await attempt('nobody', 'guess-2')).status, 401, 'other names still answer');
  for (let i = 0; i < 12; i++) await attempt(`nobody-${i}`, 'guess');
  t.equal((await attempt('root', 'root-password')).status, 429, 'the address backs off after its own limit');
});

t.test('the audit log records logins, token changes, writes and permission changes, never secrets', async (t) => {
  // The audit log is written asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const lines = readFileSync(shelf.auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const events = lines.map((l) => l.event as string);
  for (const event of ['user.create', 'group.put', 'permission.put', 'token.create', 'token.revoke', 'write', 'login', 'user.delete']) {
    t.ok(events.includes(event), event);
  }
  t.ok(lines.some((l) => l.event === 'write' && l.user === 'writer' && l.repo === 'files' && l.path === 'a/hello.txt' && l.result === 201));
  t.ok(lines.some((l) => l.event === 'write' && l.user === 'reader' && l.result === 403), 'refused writes too');
  t.ok(lines.some((l) => l.event === 'login' && l.result === 'failed' && l.user === 'nobody' && l.address));
  t.ok(lines.some((l) => l.event === 'login' && l.result === 'throttled'));
  const text = JSON.stringify(lines);
  for (const secret of ['writer-password', 'reader-password', 'root-password', 'shelf_', 'guess']) t.notOk(text.includes(secret), `no ${secret}`);
});
