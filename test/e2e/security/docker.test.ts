import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { ociImages } from '../../helpers/docker-harness.js';
import { runTool } from '../../helpers/run-tool.js';
import { startShelf } from '../../helpers/shelf.js';

const images = ociImages();
const shelf = await startShelf({
  repositories: [
    { key: 'docker-a', format: 'docker', type: 'local' },
    { key: 'docker-b', format: 'docker', type: 'local' },
    { key: 'docker-pub', format: 'docker', type: 'local' },
  ],
  security: {
    permissions: [
      { name: 'public', repositories: ['docker-pub'], anonymous: ['read'] },
      { name: 'team', repositories: ['docker-a', 'docker-b'], includes: ['team/**'], users: { pusher: ['read', 'write'] } },
      { name: 'readers', repositories: ['docker-a', 'docker-b'], users: { reader: ['read'] } },
    ],
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
await identity.addUser({ name: 'root', password: 'root-password', admin: true });
await identity.addUser({ name: 'pusher', password: 'pusher-password' });
await identity.addUser({ name: 'reader', password: 'reader-password' });
const host = shelf.url.replace('http://', '');
const authDir = mkdtempSync(join(tmpdir(), 'shelf-skopeo-auth-'));
t.teardown(() => rmSync(authDir, { recursive: true, force: true }));

/** skopeo with its own auth file, so logins of one test never leak into another. */
const skopeo = (authFile: string, ...args: string[]) =>
  runTool('skopeo', args.flatMap((a) => (a === '@auth' ? [`--authfile=${join(authDir, authFile)}`] : [a])), {
    PATH: process.env.PATH,
    HOME: authDir,
  });
const push = (creds: string | undefined, layout: string, name: string) =>
  skopeo('push', 'copy', '-q', '--dest-tls-verify=false', ...(creds ? [`--dest-creds=${creds}`] : ['@auth']), `oci:${images}/${layout}`, `docker://${host}/${name}`);
const inspect = (creds: string | undefined, name: string) =>
  skopeo('inspect', 'inspect', '--raw', '--tls-verify=false', ...(creds ? [`--creds=${creds}`] : ['--no-creds']), `docker://${host}/${name}`);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const token = async (authorization: string | undefined, ...scopes: string[]) => {
  const query = new URLSearchParams([['service', 'shelf'], ...scopes.map((s) => ['scope', s])]);
  const res = await fetch(`${shelf.url}/v2/token?${query}`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, body: (await res.json()) as { token: string; expires_in: number } };
};
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { access: unknown[]; sub: string };

t.test('/v2/ asks for a bearer token from the token service', async (t) => {
  const res = await fetch(`${shelf.url}/v2/`);
  t.equal(res.status, 401);
  t.equal(res.headers.get('www-authenticate'), `Bearer realm="${shelf.url}/v2/token",service="shelf"`);
  const push = await fetch(`${shelf.url}/v2/docker-a/team/app/blobs/uploads/`, { method: 'POST' });
  t.equal(push.status, 401);
  t.match(push.headers.get('www-authenticate'), /scope="repository:docker-a\/team\/app:pull,push"/);
  t.match(await push.json(), { errors: [{ code: 'UNAUTHORIZED' }] });
});

t.test('skopeo login: refused with a wrong password, then pushes with the stored login', async (t) => {
  const wrong = await skopeo('pusher.json', 'login', '@auth', '--tls-verify=false', '-u', 'pusher', '-p', 'wrong', host);
  t.not(wrong.code, 0, 'wrong password');
  const login = await skopeo('pusher.json', 'login', '@auth', '--tls-verify=false', '-u', 'pusher', '-p', 'pusher-password', host);
  t.equal(login.code, 0, login.stderr);
  t.match(login.stdout, /Login Succeeded/);
  const pushed = await skopeo('pusher.json', 'copy', '-q', '--dest-tls-verify=false', '@auth', `oci:${images}/shared:1.0`, `docker://${host}/docker-a/team/app:1.0`);
  t.equal(pushed.code, 0, pushed.stderr);
  t.match(readFileSync(join(authDir, 'pusher.json'), 'utf8'), /"auths"/);
});

t.test('push: refused without credentials, read-only, or outside the include pattern; accepted for the writer', async (t) => {
  t.not((await push(undefined, 'small:1.0', 'docker-b/team/app:anon')).code, 0, 'anonymous');
  const readOnly = await push('reader:reader-password', 'small:1.0', 'docker-b/team/app:1.0');
  t.not(readOnly.code, 0, 'read-only credentials');
  t.match(readOnly.stderr, /denied|unauthorized|authentication required/i);
  const outside = await push('pusher:pusher-password', 'small:1.0', 'docker-b/other/app:1.0');
  t.not(outside.code, 0, 'other/* is not team/**');
  const ok = await push('pusher:pusher-password', 'small:1.0', 'docker-b/team/app:1.0');
  t.equal(ok.code, 0, ok.stderr);
  t.equal((await push('root:root-password', 'small:1.1', 'docker-pub/library/busybox:1.1')).code, 0, 'an administrator pushes anywhere');
});

t.test('pull: anonymous where granted, with credentials elsewhere', async (t) => {
  t.equal((await inspect(undefined, 'docker-pub/library/busybox:1.1')).code, 0, 'anonymous pull of a public repository');
  const denied = await inspect(undefined, 'docker-a/team/app:1.0');
  t.not(denied.code, 0, 'anonymous pull elsewhere');
  t.equal((await inspect('reader:reader-password', 'docker-a/team/app:1.0')).code, 0, 'a reader pulls');
});

t.test('tokens grant exactly what the user may, per repository', async (t) => {
  const reader = await token(basic('reader', 'reader-password'), 'repository:docker-a/team/app:pull,push');
  t.equal(reader.status, 200);
  t.same(claims(reader.body.token).access, [{ type: 'repository', name: 'docker-a/team/app', actions: ['pull'] }]);
  t.equal(reader.body.expires_in, 300);
  const anonymous = await token(undefined, 'repository:docker-a/team/app:pull', 'repository:docker-pub/library/busybox:pull');
  t.same(claims(anonymous.body.token).access, [{ type: 'repository', name: 'docker-pub/library/busybox', actions: ['pull'] }]);
  t.equal((await token(basic('reader', 'wrong'))).status, 401);
});

t.test('a token for repository A cannot push to repository B', async (t) => {
  const forA = (await token(basic('pusher', 'pusher-password'), 'repository:docker-a/team/app:pull,push')).body.token;
  const onA = await fetch(`${shelf.url}/v2/docker-a/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${forA}` } });
  t.equal(onA.status, 202, 'A: upload started');
  const onB = await fetch(`${shelf.url}/v2/docker-b/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${forA}` } });
  t.equal(onB.status, 401, 'B: the token does not grant it, though the user could');
  t.match(onB.headers.get('www-authenticate'), /scope="repository:docker-b\/team\/app:pull,push",error="insufficient_scope"/);
  const tampered = forA.replace(/\.[^.]+$/, '.AAAA');
  const forged = await fetch(`${shelf.url}/v2/docker-a/team/app/tags/list`, { headers: { authorization: `Bearer ${tampered}` } });
  t.equal(forged.status, 401, 'a forged token');
  t.match(forged.headers.get('www-authenticate'), /^Bearer realm=/, 'answered with the token service\'s challenge, so the client asks again');
  const wrongPassword = await fetch(`${shelf.url}/v2/`, { headers: { authorization: basic('pusher', 'nope') } });
  t.equal(wrongPassword.status, 401);
  t.match(wrongPassword.headers.get('www-authenticate'), /^Bearer realm=/);
});

t.test('the catalog lists only what the caller may pull', async (t) => {
  const catalog = async (authorization?: string) => {
    const jwt = (await token(authorization, 'registry:catalog:*')).body.token;
    const res = await fetch(`${shelf.url}/v2/_catalog`, { headers: { authorization: `Bearer ${jwt}` } });
    return ((await res.json()) as { repositories: string[] }).repositories;
  };
  t.same(await catalog(), ['docker-pub/library/busybox']);
  t.same(await catalog(basic('reader', 'reader-password')), ['docker-a/team/app', 'docker-b/team/app', 'docker-pub/library/busybox']);
  t.equal((await fetch(`${shelf.url}/v2/_catalog`)).status, 401);
});
