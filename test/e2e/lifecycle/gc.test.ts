import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { layoutDigest, ociImages, skopeo } from '../../helpers/docker-harness.js';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { pypiFixtures, pythonEnv } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';
import { BLOB_PREFIXES } from '../../../src/storage/blob-store.js';
import { Identity } from '../../../src/security/identity.js';

const images = ociImages();
const mavenUpstream = await startMavenUpstream(t);
const repositories = [
  { key: 'files', format: 'generic', type: 'local' },
  { key: 'npm-local', format: 'npm', type: 'local' },
  { key: 'pypi-local', format: 'pypi', type: 'local' },
  { key: 'maven-snapshots', format: 'maven', type: 'local', versionPolicy: 'snapshot', maxUniqueSnapshots: 1 },
  { key: 'docker-local', format: 'docker', type: 'local' },
  { key: 'central', format: 'maven', type: 'remote', url: mavenUpstream.url },
  { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-snapshots', 'central'], defaultDeployRepo: 'maven-snapshots' },
];
// No grace period: every blob this test leaves unreferenced is garbage at once.
const storage = { gc: { schedule: false, graceSeconds: 0 } };
const docker = { gc: { deleteUntagged: true } };
const shelf = await startShelf({ repositories, storage, docker });
t.teardown(() => shelf.stop());
await new Identity(shelf.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
const adminAuth = `Basic ${Buffer.from('root:root-password').toString('base64')}`;
const host = shelf.url.replace('http://', '');

/** Blob files on disk, by digest. */
const blobFiles = () => new Set(readdirSync(join(shelf.dataDir, 'blobs', 'sha256')).flatMap((dir) => readdirSync(join(shelf.dataDir, 'blobs', 'sha256', dir))));
const referenced = async () => new Set((await Promise.all(BLOB_PREFIXES.map((p) => shelf.app.index.blobDigestsWithPrefix(p)))).flat());
const blobFileExists = (digest: string) => existsSync(join(shelf.dataDir, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)));

/** The blobs (config, layers) and manifest of an image in the test layouts. */
async function imageDigests(ref: string): Promise<string[]> {
  const manifest = JSON.parse(await skopeo('inspect', '--raw', `oci:${images}/${ref}`)) as { config: { digest: string }; layers: { digest: string }[] };
  return [manifest.config.digest, ...manifest.layers.map((l) => l.digest), await layoutDigest(images, ref)];
}

/** `shelf gc` against the data directory the running server uses, as an operator runs it beside the service. */
function shelfGc(...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-gc-config-'));
  const config = join(dir, 'shelf.yaml');
  writeFileSync(config, stringify({ storage: shelf.storage, repositories, docker, logging: { level: 'warn' } }));
  return spawnSync(process.execPath, ['dist/cli/main.js', 'gc', '--config', config, ...args], { encoding: 'utf8' });
}

t.test('after deploys, overwrites and deletes in every format, GC leaves exactly the blobs the index refers to', async (t) => {
  // generic: an overwritten and a deleted file
  for (const [path, body] of [['a.bin', 'first'], ['a.bin', 'second'], ['b.bin', 'deleted later']] as const) {
    t.equal((await fetch(`${shelf.url}/files/${path}`, { method: 'PUT', body: body.repeat(100_000) })).status, 201);
  }
  t.equal((await fetch(`${shelf.url}/files/b.bin`, { method: 'DELETE' })).status, 204);

  // npm: two versions published, one unpublished
  for (const version of ['1.0.0', '1.0.1']) await publishPackage(t, `${shelf.url}/npm-local/`, 'gc-pkg', version);
  const client = new ClientProject(`${shelf.url}/npm-local/`);
  t.teardown(() => client.remove());
  const unpublished = await client.npm('unpublish', 'gc-pkg@1.0.0', '--force');
  t.equal(unpublished.code, 0, unpublished.stderr);

  // PyPI: an upload (nothing of it may go)
  const env = pythonEnv(t);
  const uploaded = await env.twine(`${shelf.url}/pypi-local/`, join(pypiFixtures(), 'uploads', 'shelf_upload-1.0.0-py3-none-any.whl'));
  t.equal(uploaded.code, 0, uploaded.stderr);

  // Maven: the second SNAPSHOT build prunes the first (maxUniqueSnapshots: 1)
  const project = mavenProject(t, `${shelf.url}/maven/`, '2.0.0-SNAPSHOT');
  for (let i = 0; i < 2; i++) {
    const deployed = await project.mvn('deploy', `-Dshelf.deployUrl=${shelf.url}/maven-snapshots/`);
    t.equal(deployed.code, 0, deployed.stdout.slice(-2000));
  }

  const before = blobFiles();
  const live = await referenced();
  const unreferenced = [...before].filter((sha256) => !live.has(sha256));
  t.ok(unreferenced.length >= 5, `overwritten, deleted, unpublished and pruned content left ${unreferenced.length} blobs`);

  const dry = shelfGc('--dry-run');
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, new RegExp(`would free ${unreferenced.length} blobs`));
  t.match(dry.stdout, /dry run: nothing was deleted/);
  t.same(blobFiles(), before, 'a dry run deletes nothing');

  const run = shelfGc();
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, new RegExp(`freed ${unreferenced.length} blobs`));
  t.same([...blobFiles()].sort(), [...(await referenced())].sort(), 'the blob store holds exactly what the index refers to');

  // Everything still referenced is still served, by the real clients.
  const consumer = new ClientProject(`${shelf.url}/npm-local/`, { name: 'gc-consumer', version: '1.0.0', private: true, dependencies: { 'gc-pkg': '1.0.1' } });
  t.teardown(() => consumer.remove());
  const installed = await consumer.npm('install');
  t.equal(installed.code, 0, installed.stderr);
  t.equal((await (await fetch(`${shelf.url}/files/a.bin`)).text()), 'second'.repeat(100_000));
  const resolved = await mavenProject(t, `${shelf.url}/maven/`).mvn('dependency:get', '-Dartifact=shelf.sample:hello:2.0.0-SNAPSHOT');
  t.equal(resolved.code, 0, resolved.stdout.slice(-2000));
  const pip = await env.pip(`${shelf.url}/pypi-local/simple/`, 'download', '--no-deps', '-d', join(env.dir, 'downloads'), 'shelf-upload==1.0.0');
  t.equal(pip.code, 0, pip.stderr);
});

t.test('Docker: deleting one of two images that share a layer frees only what the other does not use', async (t) => {
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/small:1.0`, `docker://${host}/docker-local/gc/one:1.0`);
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/shared:1.0`, `docker://${host}/docker-local/gc/two:1.0`);
  const one = await imageDigests('small:1.0');
  const two = await imageDigests('shared:1.0');
  const shared = one.filter((digest) => two.includes(digest));
  t.ok(shared.length > 0, 'the two images share a layer');
  await skopeo('delete', '--tls-verify=false', `docker://${host}/docker-local/gc/one:1.0`);

  const res = await fetch(`${shelf.url}/api/system/gc`, { method: 'POST', headers: { authorization: adminAuth } });
  t.equal(res.status, 200);
  const report = (await res.json()) as { repositories: { repo: string; paths: number }[]; blobs: { count: number } };
  t.match(report.repositories, [{ repo: 'docker-local', paths: one.length - 1 }], "gc/one's layer and config links go");
  for (const digest of one) t.equal(blobFileExists(digest), shared.includes(digest), `${digest} ${shared.includes(digest) ? 'kept' : 'freed'}`);
  for (const digest of two) t.ok(blobFileExists(digest), `${digest} of the other image kept`);

  const pulled = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/docker-local/gc/two:1.0`);
  t.equal(`sha256:${(await import('node:crypto')).createHash('sha256').update(pulled).digest('hex')}`, await layoutDigest(images, 'shared:1.0'));
  const out = mkdtempSync(join(tmpdir(), 'shelf-gc-pull-'));
  await skopeo('copy', '-q', '--src-tls-verify=false', `docker://${host}/docker-local/gc/two:1.0`, `oci:${out}:two`);
  t.ok(existsSync(join(out, 'index.json')), 'skopeo pulls the other image whole');
});

t.test('Docker, deleteUntagged: a manifest a moved tag left behind goes; an index keeps its children', async (t) => {
  const image = `docker://${host}/docker-local/gc/moving`;
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/small:1.0`, `${image}:app`);
  await skopeo('copy', '-q', '--dest-tls-verify=false', '--all', `oci:${images}/multi:1.0`, `${image}:multi`);
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/small:1.1`, `${image}:app`);
  const [oldConfig, , oldManifest] = await imageDigests('small:1.0');
  const kept = await imageDigests('small:1.1');
  const index = JSON.parse(await skopeo('inspect', '--raw', `oci:${images}/multi:1.0`)) as { manifests: { digest: string }[] };

  const res = await fetch(`${shelf.url}/api/system/gc`, { method: 'POST', headers: { authorization: adminAuth } });
  t.equal(res.status, 200);
  const manifest = (digest: string) => fetch(`${shelf.url}/v2/docker-local/gc/moving/manifests/${digest}`, { method: 'HEAD' });
  t.equal((await manifest(oldManifest!)).status, 404, 'the untagged manifest is gone');
  t.equal(blobFileExists(oldManifest!), false);
  t.equal(blobFileExists(oldConfig!), kept.includes(oldConfig!), 'and its config unless the tagged one shares it');
  for (const digest of kept) t.ok(blobFileExists(digest), `${digest} of the tagged image kept`);
  for (const child of index.manifests) t.equal((await manifest(child.digest)).status, 200, `index child ${child.digest} kept`);
  const out = mkdtempSync(join(tmpdir(), 'shelf-gc-pull-'));
  await skopeo('copy', '-q', '--all', '--src-tls-verify=false', `${image}:multi`, `oci:${out}:multi`);
  await skopeo('copy', '-q', '--src-tls-verify=false', `${image}:app`, `oci:${out}:app`);
  t.pass('skopeo pulls both tags whole');
});

t.test('the GC API is for administrators only, and one run at a time in the cluster', async (t) => {
  const gc = (authorization?: string) =>
    fetch(`${shelf.url}/api/system/gc?dryRun=true`, { method: 'POST', headers: authorization ? { authorization } : {} });
  t.equal((await gc()).status, 401);
  t.equal((await gc(`Basic ${Buffer.from('shelf:shelf').toString('base64')}`)).status, 403);
  // Another process (the scheduler, the CLI) holds the lease.
  t.ok(await shelf.app.index.acquireLease('garbage collection', 'another-process', 60_000));
  const refused = await gc(adminAuth);
  t.equal(refused.status, 409);
  t.match(await refused.text(), /already running/);
  const cli = shelfGc('--dry-run');
  t.equal(cli.status, 1);
  t.match(cli.stderr, /already running/);
  await shelf.app.index.releaseLease('garbage collection', 'another-process');
  t.equal((await gc(adminAuth)).status, 200);
});
