import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ociImages, skopeo } from '../../helpers/docker-harness.js';
import { ClientProject } from '../../helpers/npm-harness.js';
import { pypiFixtures, pythonEnv } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

const QUOTA = 2 * 1024 * 1024;
const images = ociImages();
const shelf = await startShelf({
  repositories: [
    { key: 'files', format: 'generic', type: 'local', quotaBytes: '2MiB' },
    { key: 'npm-local', format: 'npm', type: 'local', quotaBytes: '2MiB' },
    { key: 'pypi-local', format: 'pypi', type: 'local', quotaBytes: 1000 },
    { key: 'docker-local', format: 'docker', type: 'local', quotaBytes: '2MiB' },
    { key: 'docker-dev', format: 'docker', type: 'local' },
  ],
});
t.teardown(() => shelf.stop());
await new Identity(shelf.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
const QUOTA_MESSAGE = /over its quota: .* of 2\.0 MiB \(quotaBytes\) used/;

t.test('generic: a deploy that would pass the quota is a 413 naming the repository, quota and use', async (t) => {
  t.equal((await fetch(`${shelf.url}/files/a.bin`, { method: 'PUT', body: randomBytes(1536 * 1024) })).status, 201);
  const over = await fetch(`${shelf.url}/files/b.bin`, { method: 'PUT', body: randomBytes(1024 * 1024) });
  t.equal(over.status, 413);
  t.match(await over.text(), /repository files is over its quota: 1\.5 MiB of 2\.0 MiB/);
  t.equal((await fetch(`${shelf.url}/files/b.bin`)).status, 404);
  t.equal((await fetch(`${shelf.url}/files/a.bin`, { method: 'PUT', body: randomBytes(1900 * 1024) })).status, 201, 'an overwrite counts what it replaces');
  t.equal((await fetch(`${shelf.url}/files/a.bin`, { method: 'DELETE' })).status, 204);
  t.equal((await fetch(`${shelf.url}/files/b.bin`, { method: 'PUT', body: randomBytes(1024 * 1024) })).status, 201, 'a delete gives room back');
});

t.test('npm publish past the quota fails with a message npm prints', async (t) => {
  const project = new ClientProject(`${shelf.url}/npm-local/`, { name: 'heavy', version: '1.0.0', license: 'MIT' });
  t.teardown(() => project.remove());
  mkdirSync(join(project.dir, 'data'));
  writeFileSync(join(project.dir, 'data', 'random.bin'), randomBytes(QUOTA + 1024));
  const published = await project.npm('publish');
  t.not(published.code, 0);
  t.match(published.stderr, /413/);
  t.match(published.stderr, /repository npm-local is over its quota/);
  t.equal((await fetch(`${shelf.url}/npm-local/heavy`)).status, 404);
});

t.test('twine upload past the quota fails with the reason', async (t) => {
  const env = pythonEnv(t);
  const uploaded = await env.twine(`${shelf.url}/pypi-local/`, join(pypiFixtures(), 'uploads', 'shelf_upload-1.0.0-py3-none-any.whl'));
  t.not(uploaded.code, 0);
  t.match(uploaded.stdout + uploaded.stderr, /413/);
  t.match(uploaded.stdout + uploaded.stderr, /pypi-local is over its quota/);
});

t.test('skopeo push past the quota is DENIED, and the summary shows every repository', async (t) => {
  const big = skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/big:1.0`, `docker://${shelf.url.replace('http://', '')}/docker-local/big/blob:1.0`);
  const failure = await big.then(() => '', (err: Error) => err.message);
  t.match(failure, /denied|DENIED/);
  t.match(failure, /docker-local is over its quota/);

  // A promotion is checked against the quota as a whole before anything is linked.
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/big:1.0`, `docker://${shelf.url.replace('http://', '')}/docker-dev/big/blob:1.0`);
  const promoted = await fetch(`${shelf.url}/api/docker/docker-dev/v2/promote`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ targetRepo: 'docker-local', dockerRepository: 'big/blob', tag: '1.0', copy: true }),
  });
  t.equal(promoted.status, 413);
  t.match(await promoted.text(), /docker-local is over its quota/);
  t.same((await shelf.app.index.listArtifacts('docker-local', { prefix: 'big/blob/' })).map((r) => r.path), [], 'nothing of the image was linked');

  const summary = await fetch(`${shelf.url}/api/storage/summary`, {
    headers: { authorization: `Basic ${Buffer.from('root:root-password').toString('base64')}` },
  });
  t.equal(summary.status, 200);
  const body = (await summary.json()) as { repositoriesSummaryList: { repoKey: string; usedSpace: number; quotaBytes: number; filesCount: number }[] };
  const files = body.repositoriesSummaryList.find((r) => r.repoKey === 'files')!;
  t.match(files, { filesCount: 1, usedSpace: 1024 * 1024, quotaBytes: QUOTA });
  t.ok(body.repositoriesSummaryList.every((r) => r.quotaBytes === undefined || r.usedSpace <= r.quotaBytes), 'no repository is past its quota');
  t.equal((await fetch(`${shelf.url}/api/storage/summary`)).status, 401, 'administrators only');
});
