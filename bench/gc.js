// Garbage collection at scale: a synthetic blob store of --blobs files (default 1,000,000) and an index of
// --artifacts entries (default 100,000) referring to some of them; the rest is garbage. Measures GC time and
// peak RSS (in its own process, as `shelf gc` runs beside the service), and the p99 latency of a cache-HIT
// load on the serving Shelf while GC runs, against the same load without GC. A benchmark: no thresholds.
// GC runs once (it consumes the garbage it measures); the load without it is measured --repeats times.
// usage: npm run bench:gc [-- --blobs 1000000 --artifacts 100000 --seconds 10 --workers 2 --repeats 3 --json FILE]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteIndex } from '../dist/storage/sqlite-index.js';
import { benchOptions, freePort, machineFacts, measure, median, Report, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ blobs: { type: 'string', default: '1000000' }, artifacts: { type: 'string', default: '100000' } });
const { seconds, workers, repeats } = values;
const [blobCount, artifactCount] = [Number(values.blobs), Number(values.artifacts)];
const root = mkdtempSync(join(tmpdir(), 'shelf-bench-gc-'));
const dataDir = join(root, 'data');
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

console.log(`making ${blobCount} blob files and ${artifactCount} index entries in ${dataDir} ...`);
const madeAt = Date.now();
mkdirSync(join(dataDir, 'blobs', 'tmp'), { recursive: true });
new SqliteIndex(join(dataDir, 'index.sqlite')).close();
const db = new Database(join(dataDir, 'index.sqlite'));
const insertBlob = db.prepare('INSERT INTO blobs (sha256, size, sha1, md5, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)');
const insertArtifact = db.prepare(
  'INSERT INTO artifacts (repo, path, sha256, content_type, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?)',
);
const hit = randomBytes(1024);
const blobDir = join(dataDir, 'blobs', 'sha256');
const store = (name, content) => {
  mkdirSync(join(blobDir, name.slice(0, 2)), { recursive: true });
  writeFileSync(join(blobDir, name.slice(0, 2), name), content);
};
db.transaction(() => {
  const hex = sha256(hit);
  store(hex, hit);
  insertBlob.run(hex, hit.length, '0'.repeat(40), '0'.repeat(32), '0'.repeat(128), Date.now());
  insertArtifact.run('files', 'hit.bin', hex, 'application/octet-stream', Date.now(), Date.now());
  for (let i = 0; i < blobCount; i++) {
    // Synthetic: named like blobs, never read (GC decides by name, index and age alone).
    const name = sha256(`blob ${i}`);
    store(name, `${i}`);
    if (i < artifactCount) {
      insertBlob.run(name, String(i).length, '0'.repeat(40), '0'.repeat(32), '0'.repeat(128), Date.now());
      insertArtifact.run('files', `a/${i}`, name, 'application/octet-stream', Date.now(), Date.now());
    }
  }
})();
db.close();
console.log(`made in ${Math.round((Date.now() - madeAt) / 1000)} s`);

const port = await freePort();
const shelf = await startShelfServer(root, {
  port,
  workers,
  repository: '{ key: files, format: generic, type: local }',
});
// The CLI's config: the same data directory; every unreferenced blob counts (no grace period).
const gcConfig = join(root, 'gc.yaml');
writeFileSync(
  gcConfig,
  `storage: { dataDir: ${dataDir}, gc: { schedule: false, graceSeconds: 0 } }
logging: { level: warn }
repositories: [{ key: files, format: generic, type: local }]
`,
);

try {
  const url = `http://127.0.0.1:${port}/files/hit.bin`;
  await (await fetch(url)).arrayBuffer();
  const load = { connections: 16, seconds };
  const report = new Report('gc: garbage collection of a large store, and HITs served meanwhile', {
    facts: machineFacts(),
    settings: { seconds, repeats, shelfWorkers: workers, blobFiles: blobCount, indexEntries: artifactCount + 1, connections: load.connections },
  });
  const quietRuns = Array.from({ length: repeats }, () => measure(url, load));
  const quiet = { p99ms: median(quietRuns.map((r) => r.p99ms)), rps: median(quietRuns.map((r) => r.rps)) };

  const started = Date.now();
  let peakKiB = NaN;
  let output = '';
  const gc = new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, 'dist/cli/main.js', 'gc', '--config', gcConfig], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      peakKiB = Number(stderr.trim().split('\n').at(-1));
      code === 0 ? resolve(Date.now() - started) : reject(new Error(`shelf gc failed: ${stderr}`));
    });
  });
  // wrk blocks this thread; the GC runs in its own process meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const during = measure(url, load);
  const gcMs = await gc;

  console.log(`\n${output.trim()}`);
  report.figures(`GC of ${blobCount} blob files (${blobCount - artifactCount} unreferenced), ${artifactCount + 1} index entries; HITs without GC: median of ${repeats}`, [
    { measure: 'GC time (s)', value: Math.round(gcMs / 100) / 10 },
    { measure: 'GC peak RSS (MiB)', value: Math.round(peakKiB / 1024) },
    { measure: 'HIT p99 without GC (ms)', value: quiet.p99ms },
    { measure: `HIT p99 while GC runs (ms, first ${seconds} s of it)`, value: during.p99ms },
    { measure: 'p99 ratio (during / without)', value: Math.round((during.p99ms / quiet.p99ms) * 100) / 100 },
    { measure: 'HIT req/s without / during GC', value: `${Math.round(quiet.rps)} / ${Math.round(during.rps)}` },
  ]);
  report.save(values.json);
  if (gcMs < seconds * 1000) console.log(`(GC took less than the ${seconds} s load: part of the "during" load ran after it)`);
} finally {
  await stopShelfServer(shelf);
  rmSync(root, { recursive: true, force: true });
}
