import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { pypiFixtures, pythonEnv } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

// Copy, move and promotion for npm, PyPI, Maven and generic files: links (no byte is copied), every check
// before anything changes, and the real clients install from the target afterwards.
const mavenUpstream = await startMavenUpstream(t);
const ALL = ['read', 'write', 'delete', 'annotate', 'manage'];
const repositories = [
  ...['npm', 'pypi', 'maven'].flatMap((format) => [
    { key: `${format}-dev`, format, type: 'local' },
    { key: `${format}-release`, format, type: 'local' },
  ]),
  { key: 'files-dev', format: 'generic', type: 'local' },
  { key: 'files-release', format: 'generic', type: 'local', allowRedeploy: false, quotaBytes: 1000 },
  { key: 'central', format: 'maven', type: 'remote', url: mavenUpstream.url },
  { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-dev', 'central'], defaultDeployRepo: 'maven-dev' },
  { key: 'maven-public', format: 'maven', type: 'virtual', members: ['maven-release', 'central'] },
];
const security = {
  permissions: [
    { name: 'read-all', repositories: ['ANY'], anonymous: ['read'] },
    { name: 'shelf-all', repositories: ['ANY'], users: { shelf: ALL } },
    { name: 'dev-only', repositories: ['npm-dev'], users: { dev: ['read', 'write', 'delete'] } },
  ],
};
const shelf = await startShelf({ repositories, security });
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
await identity.addUser({ name: 'shelf', password: 'shelf' });
await identity.addUser({ name: 'dev', password: 'dev-password' });
const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const asShelf = auth('shelf', 'shelf');
const blobCount = () => readdirSync(join(shelf.dataDir, 'blobs', 'sha256')).reduce((n, dir) => n + readdirSync(join(shelf.dataDir, 'blobs', 'sha256', dir)).length, 0);
const post = (path: string, body?: unknown, headers: Record<string, string> = asShelf) =>
  fetch(`${shelf.url}/api/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });

const publish = (version: string) => publishPackage(t, `${shelf.url}/npm-dev/`, 'promo-pkg', version);

t.test('npm: a version promoted by name@version (with a dist-tag) or by its tarball path installs from the target', async (t) => {
  await publish('1.0.0');
  await publish('1.1.0');
  const before = blobCount();
  const promoted = await post('promote/npm-dev', { targetRepo: 'npm-release', package: 'promo-pkg', version: '1.0.0', distTags: ['stable'] });
  t.equal(promoted.status, 200, await promoted.clone().text());
  t.match(await promoted.json(), { target: 'npm-release', items: [{ from: 'npm-dev/.npm/promo-pkg/versions/1.0.0.json' }, { from: 'npm-dev/promo-pkg/-/promo-pkg-1.0.0.tgz' }] });
  const copied = await post('copy/npm-dev/promo-pkg/-/promo-pkg-1.1.0.tgz?to=/npm-release/promo-pkg/-/promo-pkg-1.1.0.tgz');
  t.equal(copied.status, 200, await copied.clone().text());
  t.equal(blobCount(), before, 'linked, not copied: no new blob');

  const consumer = new ClientProject(`${shelf.url}/npm-release/`, { name: 'consumer', version: '1.0.0', private: true, dependencies: { 'promo-pkg': '1.0.0' } });
  t.teardown(() => consumer.remove());
  const installed = await consumer.npm('install');
  t.equal(installed.code, 0, installed.stderr);
  t.equal(consumer.file('node_modules/promo-pkg/index.js'), "module.exports = '1.0.0';\n");
  const view = JSON.parse((await consumer.npm('view', 'promo-pkg', 'versions', 'dist-tags', '--json')).stdout) as Record<string, unknown>;
  t.match(view, { versions: ['1.0.0', '1.1.0'], 'dist-tags': { stable: '1.0.0' } });
});

t.test('permissions: read on the source and write on the target, for every file, before anything changes', async (t) => {
  await publish('2.0.0');
  const refused = await post('promote/npm-dev', { targetRepo: 'npm-release', package: 'promo-pkg', version: '2.0.0' }, auth('dev', 'dev-password'));
  t.equal(refused.status, 403);
  t.equal((await fetch(`${shelf.url}/npm-release/promo-pkg/2.0.0`)).status, 404, 'nothing was linked');
  const anonymous = await post('promote/npm-dev', { targetRepo: 'npm-release', package: 'promo-pkg', version: '2.0.0' }, {});
  t.equal(anonymous.status, 401);
});

t.test('generic: move with a dry run first; immutability and quota refuse the whole selection', async (t) => {
  for (const [path, body] of [['app/1.0/a.bin', 'a1'], ['app/1.0/b.bin', 'b1'], ['app/2.0/a.bin', 'a2'], ['app/2.0/b.bin', 'b2'], ['big/x.bin', 'x'.repeat(2000)]]) {
    t.equal((await fetch(`${shelf.url}/files-dev/${path}`, { method: 'PUT', body, headers: asShelf })).status, 201);
  }
  const dry = await post('move/files-dev/app/1.0?to=/files-release/app/1.0&dry=1');
  t.match(await dry.json(), { dryRun: true, move: true, items: [{ to: 'files-release/app/1.0/a.bin' }, { to: 'files-release/app/1.0/b.bin' }] });
  t.equal((await fetch(`${shelf.url}/files-release/app/1.0/a.bin`)).status, 404, 'a dry run changes nothing');
  const moved = await post('move/files-dev/app/1.0?to=/files-release/app/1.0');
  t.equal(moved.status, 200);
  t.equal(await (await fetch(`${shelf.url}/files-release/app/1.0/b.bin`)).text(), 'b1');
  t.equal((await fetch(`${shelf.url}/files-dev/app/1.0/b.bin`)).status, 404, 'moved away from the source');

  // files-release refuses redeploys: b.bin is there with other content, so a.bin may not go either.
  t.equal((await fetch(`${shelf.url}/files-release/app/2.0/b.bin`, { method: 'PUT', body: 'other', headers: asShelf })).status, 201);
  const conflict = await post('copy/files-dev/app/2.0?to=/files-release/app/2.0');
  t.equal(conflict.status, 409);
  t.equal((await fetch(`${shelf.url}/files-release/app/2.0/a.bin`)).status, 404, 'nothing of the selection was linked');
  const overQuota = await post('copy/files-dev/big?to=/files-release/big');
  t.equal(overQuota.status, 413);
  t.match(await overQuota.text(), /files-release is over its quota/);
  const renamed = await post('copy/files-dev/app/2.0/a.bin?to=/files-release/renamed/a.bin');
  t.equal(await (await fetch(`${shelf.url}/files-release/renamed/a.bin`)).text(), 'a2', renamed.statusText);
});

t.test('PyPI: a release (every file of a version) promoted; pip installs it from the target', async (t) => {
  const env = pythonEnv(t);
  const uploads = join(pypiFixtures(), 'uploads');
  const uploaded = await env.twine(`${shelf.url}/pypi-dev/`, join(uploads, 'shelf_upload-1.0.0-py3-none-any.whl'), join(uploads, 'shelf_upload-1.0.0.tar.gz'), join(uploads, 'shelf_upload-1.1.0-py3-none-any.whl'));
  t.equal(uploaded.code, 0, uploaded.stderr);
  const promoted = await post('promote/pypi-dev', { targetRepo: 'pypi-release', package: 'shelf_upload', version: '1.0.0' });
  t.equal(promoted.status, 200, await promoted.clone().text());
  const { items } = (await promoted.json()) as { items: { to: string }[] };
  t.same(items.map((i) => i.to).sort(), [
    'pypi-release/.pypi/shelf-upload/files/shelf_upload-1.0.0-py3-none-any.whl.json',
    'pypi-release/.pypi/shelf-upload/files/shelf_upload-1.0.0.tar.gz.json',
    'pypi-release/packages/shelf-upload/shelf_upload-1.0.0-py3-none-any.whl',
    'pypi-release/packages/shelf-upload/shelf_upload-1.0.0-py3-none-any.whl.metadata',
    'pypi-release/packages/shelf-upload/shelf_upload-1.0.0.tar.gz',
  ], "both files of 1.0.0, the wheel's core metadata and their upload records");
  const installed = await env.pip(`${shelf.url}/pypi-release/simple/`, 'install', '--no-deps', 'shelf-upload==1.0.0');
  t.equal(installed.code, 0, installed.stderr);
  const missing = await env.pip(`${shelf.url}/pypi-release/simple/`, 'download', '--no-deps', '-d', join(env.dir, 'dl'), 'shelf-upload==1.1.0');
  t.not(missing.code, 0, 'only the promoted release is in the target');
});

t.test('Maven: a version promoted (groupId:artifactId@version); mvn resolves it from the target; metadata in both', async (t) => {
  const deployed = await mavenProject(t, `${shelf.url}/maven/`, '3.0.0', 'shelf:shelf').mvn('deploy', `-Dshelf.deployUrl=${shelf.url}/maven/`);
  t.equal(deployed.code, 0, deployed.stdout.slice(-2000));
  const dir = mkdtempSync(join(tmpdir(), 'shelf-promote-config-'));
  const config = join(dir, 'shelf.yaml');
  writeFileSync(config, stringify({ storage: shelf.storage, repositories, security, logging: { level: 'warn' } }));
  const cli = spawnSync(process.execPath, ['dist/cli/main.js', 'promote', 'maven-dev', 'maven-release', '--package', 'shelf.sample:hello@3.0.0', '--config', config], { encoding: 'utf8' });
  t.equal(cli.status, 0, cli.stderr);
  t.match(cli.stdout, /maven-dev\/shelf\/sample\/hello\/3\.0\.0\/hello-3\.0\.0\.jar -> maven-release\/shelf\/sample\/hello\/3\.0\.0\/hello-3\.0\.0\.jar/);
  t.match(cli.stdout, /linked \d+ files into maven-release/);
  t.match(await (await fetch(`${shelf.url}/maven-release/shelf/sample/hello/maven-metadata.xml`)).text(), '<version>3.0.0</version>');
  const resolved = await mavenProject(t, `${shelf.url}/maven-public/`).mvn('dependency:get', '-Dartifact=shelf.sample:hello:3.0.0');
  t.equal(resolved.code, 0, resolved.stdout.slice(-2000));
});
