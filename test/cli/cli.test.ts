import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { BlobStore } from '../../src/storage/blob-store.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';

/** The CLI with an explicit npm upstream, as `npm start` provides one (npm_config_registry). */
const shelf = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/cli/main.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, npm_config_registry: 'http://127.0.0.1:9/' },
  });
const dir = mkdtempSync(join(tmpdir(), 'shelf-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('--version prints the package version', async (t) => {
  const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
  const result = shelf('--version');
  t.equal(result.status, 0);
  t.equal(result.stdout.trim(), version);
});

t.test('config check: ok, or every problem with its key path and exit code 2', async (t) => {
  const ok = shelf('config', 'check', 'config/shelf.yaml');
  t.equal(ok.status, 0);
  t.match(ok.stdout, /config\/shelf\.yaml: ok \(18 repositories\)/);

  const { npm_config_registry: _registry, SHELF_NPM_UPSTREAM: _upstream, ...bare } = process.env;
  const noUpstream = spawnSync(process.execPath, ['dist/cli/main.js', 'config', 'check', 'config/shelf.yaml'], { encoding: 'utf8', env: bare });
  t.equal(noUpstream.status, 0, 'a missing npm upstream does not stop the CLI');
  t.match(noUpstream.stdout, /config\/shelf\.yaml: ok \(18 repositories\)/);
  t.match(noUpstream.stdout, /warning: repository npm-remote is not configured until SHELF_NPM_UPSTREAM or npm_config_registry is set/);
  const chosen = spawnSync(process.execPath, ['dist/cli/main.js', 'config', 'check', 'config/shelf.yaml'], {
    encoding: 'utf8',
    env: { ...bare, SHELF_NPM_UPSTREAM: 'http://127.0.0.1:9/' },
  });
  t.equal(chosen.status, 0, chosen.stderr);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'server: { port: -1, workers: many }\n');
  const result = shelf('config', 'check', bad);
  t.equal(result.status, 2);
  t.match(result.stderr, /server\.port: /);
  t.match(result.stderr, /server\.workers: /);

  const badGraph = join(dir, 'bad-graph.yaml');
  writeFileSync(badGraph, 'repositories:\n  - { key: v, format: generic, type: virtual, members: [nope] }\n');
  const graph = shelf('config', 'check', badGraph);
  t.equal(graph.status, 2);
  t.match(graph.stderr, /repositories\[0\]\.members\[0\]: no repository "nope"/);

  const missing = shelf('config', 'check', join(dir, 'absent.yaml'));
  t.equal(missing.status, 2);
  t.match(missing.stderr, /cannot read file/);
});

t.test('storage verify finds blobs that changed or vanished on disk', async (t) => {
  const dataDir = join(dir, 'data');
  const blobs = BlobStore.onDisk(join(dataDir, 'blobs'));
  await blobs.init();
  const index = new SqliteIndex(join(dataDir, 'index.sqlite'));
  const stored = [];
  for (const text of ['one', 'two', 'three']) {
    const blob = await blobs.write(Readable.from([Buffer.from(text)]));
    await index.putArtifact({ repo: 'r', path: text, blob, contentType: 'text/plain' }, 'always');
    stored.push(blob.sha256);
  }
  await index.close();
  const config = join(dir, 'verify.yaml');
  writeFileSync(config, `storage: { dataDir: ${dataDir} }\n`);

  const clean = shelf('storage', 'verify', '--config', config);
  t.equal(clean.status, 0, clean.stderr);
  t.match(clean.stdout, /3 blobs checked, 0 corrupt, 0 missing/);

  appendFileSync(blobs.place.pathOf(stored[0]!), 'bit rot');
  unlinkSync(blobs.place.pathOf(stored[1]!));
  const damaged = shelf('storage', 'verify', '--config', config);
  t.equal(damaged.status, 1);
  t.match(damaged.stdout, /2 blobs checked, 1 corrupt, 1 missing/);
  t.match(damaged.stdout, new RegExp(`corrupt: sha256:${stored[0]}`));
  t.match(damaged.stdout, new RegExp(`missing: sha256:${stored[1]}`));

  // A blob file the index does not know (a crash between the write and its index entry): an orphan, which
  // verify reports and GC removes once it is older than the grace period.
  const orphan = await blobs.write(Readable.from([Buffer.from('left behind')]));
  const reported = shelf('storage', 'verify', '--config', config);
  t.match(reported.stdout, new RegExp(`orphan: sha256:${orphan.sha256} \\(no index entry refers to it; shelf gc removes it\\)`));
  t.match(reported.stdout, /1 orphan blob files/);
  writeFileSync(config, `storage: { dataDir: ${dataDir}, gc: { graceSeconds: 0 } }\n`);
  const gc = shelf('gc', '--config', config);
  t.equal(gc.status, 0, gc.stderr);
  t.match(gc.stdout, /freed 1 blobs/);
  t.notMatch(shelf('storage', 'verify', '--config', config).stdout, /orphan/);
});

t.test('a command that cannot open its storage says why in one line and exits 1', async (t) => {
  const config = join(dir, 'unreadable-secret.yaml');
  writeFileSync(
    config,
    `storage: { dataDir: ${join(dir, 's3-data')}, blobs: { type: s3, bucket: shelf-blobs, endpoint: "http://127.0.0.1:9", accessKeyId: k, secretAccessKey: { env: SHELF_TEST_UNSET_SECRET } } }\n`,
  );
  const failed = shelf('storage', 'verify', '--config', config);
  t.equal(failed.status, 1);
  t.equal(failed.stderr.trim(), 'failed: environment variable SHELF_TEST_UNSET_SECRET is not set');
});
