// How Shelf's costs grow (a benchmark, not a test: no thresholds):
// - index size: HITs on random paths of a hosted repository holding 10k, 100k and 1M files (a synthetic
//   index: one real file, the rest added to the index directly), by wrk, and the index lookup alone;
// - the web UI's API on the same repository: a page of 100 entries of the folder holding every file (the
//   first page, and one in the middle), and a name search that has to read every path;
// - a slow client: resident memory while a --stream-gib GiB file streams to curl limited to --rate, first
//   as a cache miss (from nginx, through Shelf) and then as a HIT.
// usage: npm run bench:growth [-- --seconds 10 --workers 2 --repeats 3 --sizes 10000,100000,1000000 --stream-gib 2 --rate 100M --json FILE]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteIndex } from '../dist/storage/sqlite-index.js';
import { benchOptions, freePort, machineFacts, measure, median, Report, residentMiB, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({
  sizes: { type: 'string', default: '10000,100000,1000000' },
  'stream-gib': { type: 'string', default: '2' },
  rate: { type: 'string', default: '100M' },
});
const { seconds, workers, repeats } = values;
const sizes = values.sizes.split(',').map(Number);
const root = mkdtempSync(join(tmpdir(), 'shelf-bench-growth-'));
chmodSync(root, 0o755);
const staticUpstream = new URL('../test/harness/static-upstream.sh', import.meta.url).pathname;

const report = new Report('cost growth: index size and slow clients', {
  facts: machineFacts({ nginx: ['nginx', '-v'], curl: ['curl', '--version'] }),
  settings: { seconds, repeats, shelfWorkers: workers, sizes: sizes.join(' '), streamGiB: Number(values['stream-gib']), clientRate: values.rate },
});

const nginxPort = await freePort();
const www = join(root, 'www');
mkdirSync(www);
chmodSync(www, 0o755);
const shelfPort = await freePort();
const repositories = ['{ key: files, format: generic, type: local }', `{ key: cache, format: generic, type: remote, url: "http://127.0.0.1:${nginxPort}/" }`];
const start = () => startShelfServer(root, { port: shelfPort, workers, repositories, anonymous: ['read', 'write'] });
const base = `http://127.0.0.1:${shelfPort}`;

/** Adds index rows for f/<from>.bin … f/<to - 1>.bin, all naming the one stored blob of f/0.bin. */
function grow(from, to) {
  const db = new Database(join(root, 'data', 'index.sqlite'));
  const template = db.prepare("SELECT * FROM artifacts WHERE repo = 'files' AND path = 'f/0.bin'").get();
  const insert = db.prepare(
    `INSERT INTO artifacts (repo, path, sha256, content_type, created_at, modified_at) VALUES ('files', ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = Math.max(1, from); i < to; i++) insert.run(`f/${i}.bin`, template.sha256, template.content_type, template.created_at, template.modified_at);
  })();
  db.close();
}

/** Microseconds per index lookup of a random path, through Shelf's own index code. */
async function lookupMicros(files) {
  const index = new SqliteIndex(join(root, 'data', 'index.sqlite'));
  const rounds = 20_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    if (!(await index.getArtifact('files', `f/${Math.floor(Math.random() * files)}.bin`))) throw new Error('a synthetic file is missing');
    // Each lookup in its own turn of the loop, as requests are (see SqliteReadMemo).
    if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const micros = Number(process.hrtime.bigint() - started) / 1000 / rounds;
  await index.close();
  return Math.round(micros * 10) / 10;
}

/** Median milliseconds of `times` sequential GETs of `url` (answers must be 200). */
async function medianMs(url, times) {
  const took = [];
  for (let i = 0; i < times; i++) {
    const started = process.hrtime.bigint();
    const answer = await fetch(url);
    await answer.arrayBuffer();
    if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}`);
    took.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return Math.round(median(took) * 100) / 100;
}

/** The opaque `from` cursor of a folder page that starts at the file f/<n>.bin. */
const cursorAt = (n) => Buffer.from(`f/${n}.bin`).toString('base64url');

let shelf = await start();
try {
  const put = await fetch(`${base}/files/f/0.bin`, { method: 'PUT', body: randomBytes(1024) });
  if (put.status !== 201) throw new Error(`PUT answered ${put.status}`);
  await stopShelfServer(shelf);

  const rows = [];
  const listings = [];
  let files = 1;
  for (const size of sizes) {
    grow(files, size);
    files = size;
    const micros = await lookupMicros(files);
    shelf = await start();
    const script = join(root, `random-${size}.lua`);
    writeFileSync(script, `math.randomseed(os.time())\nrequest = function()\n  return wrk.format("GET", "/files/f/" .. math.random(0, ${size - 1}) .. ".bin")\nend\n`);
    const runs = Array.from({ length: repeats }, () => measure(`${base}/files/f/0.bin`, { connections: 32, seconds, script }));
    listings.push({
      files: size,
      'first page ms': await medianMs(`${base}/api/storage/files/f/?limit=100`, 20),
      'middle page ms': await medianMs(`${base}/api/storage/files/f/?limit=100&from=${cursorAt(Math.floor(size / 2))}`, 20),
      'name search ms': await medianMs(`${base}/api/search/artifact?name=${size - 1}.bin&limit=10`, 3),
    });
    await stopShelfServer(shelf);
    rows.push({
      files: size,
      'lookup µs': micros,
      'HIT req/s': Math.round(median(runs.map((r) => r.rps))),
      'p50 ms': median(runs.map((r) => r.p50ms)),
      'p99 ms': median(runs.map((r) => r.p99ms)),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
    });
  }
  report.figures('HITs on random paths of a hosted repository, by the number of files it holds', rows);
  report.figures('the web UI API on that repository: folder pages of 100 entries (sequential, median), and a name search over every path', listings);

  const gib = Number(values['stream-gib']);
  // Random content: zeros would compress in no layer, but the bench should not flatter anything.
  const big = openSync(join(www, 'big.bin'), 'w');
  const block = randomBytes(64 * 1024 * 1024);
  for (let written = 0; written < gib * 1024 ** 3; written += block.length) writeFileSync(big, block);
  closeSync(big);
  chmodSync(join(www, 'big.bin'), 0o644);
  execFileSync('bash', [staticUpstream, 'start', www, String(nginxPort)]);
  shelf = await start();
  const memory = [];
  for (const state of ['MISS', 'HIT']) {
    const before = residentMiB(shelf.pid);
    const samples = [];
    const client = spawn('curl', ['-sS', '-o', '/dev/null', '--limit-rate', values.rate, '-w', '%{http_code} %{size_download}', `${base}/cache/big.bin`]);
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    const sampler = setInterval(() => samples.push(residentMiB(shelf.pid)), 1000);
    const code = await new Promise((resolve) => client.on('exit', resolve));
    clearInterval(sampler);
    if (code !== 0 || !out.startsWith('200')) throw new Error(`curl: ${code} ${out}`);
    // The first seconds start what any transfer needs once (the threads that compute digests); after that it must stay flat.
    const settled = samples.slice(2);
    memory.push({
      cache: state,
      'RSS MiB before': before,
      'RSS MiB 2 s in': settled[0],
      'RSS MiB max': Math.max(...samples),
      'growth after 2 s, MiB': Math.max(...settled) - settled[0],
      samples: samples.length,
    });
  }
  report.figures(`resident memory of Shelf (all processes) while ${gib} GiB streams to a client limited to ${values.rate}/s`, memory);
  report.save(values.json);
} finally {
  await stopShelfServer(shelf);
  execFileSync('bash', [staticUpstream, 'stop', www, String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}
