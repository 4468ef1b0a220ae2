import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ClientProject, startVerdaccio } from '../../helpers/npm-harness.js';
import { startShelfProcess } from '../../helpers/shelf.js';

const upstream = await startVerdaccio(t);

// `shelf serve` with two workers: each has its own packument cache; single-flight spans both.
const shelf = await startShelfProcess(
  {
    repositories: [
      { key: 'npm-local', format: 'npm', type: 'local' },
      { key: 'npm-remote', format: 'npm', type: 'remote', url: upstream.url },
      { key: 'npm', format: 'npm', type: 'virtual', members: ['npm-local', 'npm-remote'], defaultDeployRepo: 'npm-local' },
    ],
  },
  2,
);
t.teardown(() => shelf.stop());

function project(packageJson?: Record<string, unknown>): ClientProject {
  const p = new ClientProject(`${shelf.url}/npm/`, packageJson);
  t.teardown(() => p.remove());
  return p;
}

t.test('concurrent cold installs through two workers ask the upstream once per file', async (t) => {
  const results = await Promise.all(Array.from({ length: 6 }, () => project().npm('install', 'shelf-fix-a', '@shelf/scoped', 'shelf-fix-big')));
  results.forEach((r, i) => t.equal(r.code, 0, `install ${i}: ${r.stderr}`));
  const requests = await upstream.requests('');
  const repeated = requests.filter((r, i) => r !== 'GET /-/ping' && requests.indexOf(r) !== i);
  t.same(repeated, [], `no file was fetched twice (${requests.length} upstream requests)`);
  t.equal(shelf.workerPids().length, 2, 'both workers served');
});

t.test('publishes through either worker; a version is still published only once', async (t) => {
  const publishers = Array.from({ length: 4 }, (_, i) => {
    const p = project({ name: 'raced', version: '1.0.0', main: 'index.js', license: 'MIT' });
    writeFileSync(join(p.dir, 'index.js'), `module.exports = ${i};\n`);
    return p;
  });
  const results = await Promise.all(publishers.map((p) => p.npm('publish')));
  t.equal(results.filter((r) => r.code === 0).length, 1, 'exactly one of four concurrent publishes of raced@1.0.0 wins');
  const doc = (await (await fetch(`${shelf.url}/npm/raced`)).json()) as any;
  const tarball = Buffer.from(await (await fetch(doc.versions['1.0.0'].dist.tarball)).arrayBuffer());
  t.equal(`sha512-${createHash('sha512').update(tarball).digest('base64')}`, doc.versions['1.0.0'].dist.integrity, 'the tarball served is the one the packument names');
  const consumer = project();
  t.equal((await consumer.npm('install', 'raced')).code, 0);
});
