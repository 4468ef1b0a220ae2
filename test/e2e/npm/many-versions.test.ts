import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ShelfApp } from '../../../src/app.js';
import { validateConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/observability/logger.js';
import { LocalFlightCoordinator } from '../../../src/repos/flights.js';
import type { LocalRepo } from '../../../src/repos/local-repo.js';
import { ClientProject } from '../../helpers/npm-harness.js';
import { startShelfProcess, testStorage } from '../../helpers/shelf.js';

// One package with 10,000 versions, served by `shelf serve` under `ulimit -n 512` while other traffic goes on:
// reading its version records is bounded, so it neither fails with EMFILE nor starves other requests.

const VERSIONS = 10_000;
const repositories = [{ key: 'npm-local', format: 'npm', type: 'local' }];
const baseDir = mkdtempSync(join(tmpdir(), 'shelf-many-'));

// The versions are recorded as a publish records them, straight into the data directory (10,000 npm publishes
// would take minutes): one manifest per version, and `latest`.
const storage = await testStorage({ dataDir: join(baseDir, 'data') });
{
  const config = validateConfig({ repositories, storage, logging: { level: 'silent' } });
  const app = await ShelfApp.create({ config, log: createLogger('silent'), flights: new LocalFlightCoordinator() });
  const repo = app.repos.get('npm-local') as LocalRepo;
  for (let i = 0; i < VERSIONS; i++) {
    const version = `1.0.${i}`;
    const manifest = {
      name: 'shelf-many-versions',
      version,
      _id: `shelf-many-versions@${version}`,
      dist: { shasum: '0'.repeat(40), tarball: `http://placeholder/npm-local/shelf-many-versions/-/shelf-many-versions-${version}.tgz` },
    };
    await repo.put(`.npm/shelf-many-versions/versions/${version}.json`, [Buffer.from(JSON.stringify(manifest))], { contentType: 'application/json' });
  }
  await repo.put('.npm/shelf-many-versions/dist-tags/latest', [Buffer.from(`1.0.${VERSIONS - 1}`)], { contentType: 'text/plain' });
  await repo.put('small/file.txt', [Buffer.from('x')], { contentType: 'text/plain' }).catch(() => undefined);
  await app.close();
}

const shelf = await startShelfProcess({ repositories, storage }, 2, { baseDir, maxOpenFiles: 512 });
t.teardown(async () => {
  await shelf.stop();
  rmSync(baseDir, { recursive: true, force: true });
});

t.test('the packument of 10,000 versions is served, repeatedly, while other requests keep being answered', async (t) => {
  const packument = (abbreviated: boolean) =>
    fetch(`${shelf.url}/npm-local/shelf-many-versions`, {
      headers: abbreviated ? { accept: 'application/vnd.npm.install-v1+json' } : {},
    }).then(async (r) => ({ status: r.status, versions: r.ok ? Object.keys(((await r.json()) as { versions: object }).versions).length : 0 }));
  const other = () => fetch(`${shelf.url}/-/healthz`).then((r) => r.status);
  const [documents, others] = await Promise.all([
    Promise.all([packument(false), packument(true), packument(false), packument(true), packument(false), packument(true)]),
    Promise.all(Array.from({ length: 200 }, other)),
  ]);
  for (const doc of documents) t.same(doc, { status: 200, versions: VERSIONS });
  t.same([...new Set(others)], [200], 'every other request was answered');
  t.equal(await other(), 200, 'and the server still accepts connections');
  t.notMatch(shelf.output(), /EMFILE/, 'no file descriptor ran out');
});

t.test('npm view reads it', async (t) => {
  const project = new ClientProject(`${shelf.url}/npm-local/`);
  t.teardown(() => project.remove());
  const view = await project.npm('view', 'shelf-many-versions', 'versions', '--json');
  t.equal(view.code, 0, view.stderr);
  t.equal((JSON.parse(view.stdout) as string[]).length, VERSIONS);
});
