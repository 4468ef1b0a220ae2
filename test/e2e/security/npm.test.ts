import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { ClientProject } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const shelf = await startShelf({
  repositories: [
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'npm-public', format: 'npm', type: 'local' },
    { key: 'npm', format: 'npm', type: 'virtual', members: ['npm-local'], defaultDeployRepo: 'npm-local' },
  ],
  security: {
    permissions: [
      { name: 'public', repositories: ['npm-public'], anonymous: ['read'] },
      { name: 'team', repositories: ['npm-local', 'npm-public'], includes: ['@team/**'], users: { teammate: ['read', 'write'] } },
      { name: 'readers', repositories: ['npm-local', 'npm'], users: { reader: ['read'] }, groups: { readers: ['read'] } },
    ],
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
await identity.addUser({ name: 'teammate', password: 'teammate-password' });
await identity.addUser({ name: 'reader', password: 'reader-password' });
await identity.addUser({ name: 'root', password: 'root-password', admin: true });
const tokenOf = async (user: string) => (await identity.issueToken(user, 'test')).token;
const teammate = await tokenOf('teammate');
const reader = await tokenOf('reader');

/** A project whose npm config logs in with `token` (or not at all). */
function project(t: { teardown(fn: () => unknown): void }, registry: string, token: string | undefined, packageJson?: Record<string, unknown>): ClientProject {
  const host = registry.replace(/^https?:/, '');
  const p = new ClientProject(registry, packageJson, [token ? `${host}:_authToken=${token}` : `${host}:_auth=`]);
  const npmrc = join(p.dir, '..', 'npmrc');
  if (!token) writeFileSync(npmrc, readFileSync(npmrc, 'utf8').replace(/^.*:_auth=.*$/m, ''));
  t.teardown(() => p.remove());
  if (packageJson) writeFileSync(join(p.dir, 'index.js'), 'module.exports = 42;\n');
  return p;
}
const pkg = (name: string) => ({ name, version: '1.0.0', main: 'index.js', license: 'MIT' });
const registry = `${shelf.url}/npm-local/`;

t.test('npm publish: 401 without a login, 403 with a read-only token, accepted within the include pattern', async (t) => {
  const anonymous = await project(t, registry, undefined, pkg('@team/lib')).npm('publish');
  t.not(anonymous.code, 0);
  t.match(anonymous.stderr, /E401|need auth|authentication/i);
  const readOnly = await project(t, registry, reader, pkg('@team/lib')).npm('publish');
  t.not(readOnly.code, 0);
  t.match(readOnly.stderr, /E403/);
  t.match(readOnly.stderr, /reader may not write @team\/lib in npm-local/);
  const published = await project(t, registry, teammate, pkg('@team/lib')).npm('publish');
  t.equal(published.code, 0, published.stderr);
  const other = await project(t, registry, teammate, pkg('@other/lib')).npm('publish');
  t.not(other.code, 0, '@other/* is outside @team/**');
  t.match(other.stderr, /E403/);
  const throughVirtual = await project(t, `${shelf.url}/npm/`, teammate, { ...pkg('@team/lib'), version: '1.1.0' }).npm('publish');
  t.equal(throughVirtual.code, 0, 'a publish through the virtual needs write on its deploy repository');
});

t.test('npm install: anonymous where granted, with a token elsewhere', async (t) => {
  const published = await project(t, `${shelf.url}/npm-public/`, teammate, pkg('@team/open')).npm('publish');
  t.equal(published.code, 0, published.stderr);
  const anonymousOpen = await project(t, `${shelf.url}/npm-public/`, undefined).npm('install', '@team/open');
  t.equal(anonymousOpen.code, 0, anonymousOpen.stderr);
  const anonymousClosed = await project(t, registry, undefined).npm('install', '@team/lib');
  t.not(anonymousClosed.code, 0);
  t.match(anonymousClosed.stderr, /E401/);
  const withToken = project(t, registry, reader);
  const installed = await withToken.npm('install', '@team/lib@1.1.0');
  t.equal(installed.code, 0, installed.stderr);
  t.equal(JSON.parse(withToken.file('node_modules/@team/lib/package.json')).version, '1.1.0');
});

t.test('npm search shows only the packages the caller may read', async (t) => {
  const published = await project(t, registry, await tokenOf('root'), pkg('plain-lib')).npm('publish');
  t.equal(published.code, 0, published.stderr);
  const search = async (token: string) => {
    const result = await project(t, registry, token).npm('search', 'lib', '--json');
    return (JSON.parse(result.stdout) as { name: string }[]).map((p) => p.name).sort();
  };
  t.same(await search(reader), ['@team/lib', 'plain-lib']);
  t.same(await search(teammate), ['@team/lib'], 'plain-lib is outside @team/**');
});

t.test('dist-tags need annotate; unpublish needs delete', async (t) => {
  const p = project(t, registry, teammate);
  const tag = await p.npm('dist-tag', 'add', '@team/lib@1.0.0', 'stable');
  t.not(tag.code, 0, 'the teammate may write, not annotate');
  t.match(tag.stderr, /E403/);
  const unpublish = await p.npm('unpublish', '@team/lib@1.0.0');
  t.not(unpublish.code, 0);
  t.match(unpublish.stderr, /E403/);
});

t.test('a revoked or expired token is refused', async (t) => {
  const revoked = await identity.issueToken('reader', 'soon revoked');
  t.ok(await identity.revokeTokenValue(revoked.token));
  const withRevoked = await project(t, registry, revoked.token).npm('view', '@team/lib', 'version');
  t.not(withRevoked.code, 0);
  t.match(withRevoked.stderr, /E401/);
  const expired = await identity.issueToken('reader', 'expired', Date.now() - 1);
  const withExpired = await project(t, registry, expired.token).npm('view', '@team/lib', 'version');
  t.match(withExpired.stderr, /E401/);
  const live = await project(t, registry, reader).npm('view', '@team/lib', 'version');
  t.equal(live.stdout.trim(), '1.1.0');
});
