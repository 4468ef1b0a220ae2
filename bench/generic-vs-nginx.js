// Serves 1 KiB, 1 MiB and 100 MiB cached files through Shelf and the same files through nginx, in the
// same run, and prints requests/s, MB/s and the Shelf/nginx ratio. A benchmark, not a test: no thresholds.
// usage: npm run bench [-- --seconds 10 --workers 2]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareRows, freePort, measure, startShelfServer } from './harness.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, workers: { type: 'string', default: '0' } },
});
const seconds = Number(values.seconds);
const harness = new URL('../test/harness/static-upstream.sh', import.meta.url).pathname;

const files = [
  { name: '1k.bin', bytes: 1024, connections: 32 },
  { name: '1m.bin', bytes: 1024 * 1024, connections: 16 },
  { name: '100m.bin', bytes: 100 * 1024 * 1024, connections: 4 },
];

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-'));
chmodSync(root, 0o755);
const www = join(root, 'www');
execFileSync('mkdir', ['-p', www]);
chmodSync(www, 0o755);
for (const file of files) writeFileSync(join(www, file.name), randomBytes(file.bytes));

const nginxPort = await freePort();
const shelfPort = await freePort();
execFileSync('bash', [harness, 'start', www, String(nginxPort)]);
const shelf = await startShelfServer(root, {
  port: shelfPort,
  workers: Number(values.workers),
  repository: `{ key: cache, format: generic, type: remote, url: "http://127.0.0.1:${nginxPort}/", metadataTtlSeconds: 86400 }`,
});

async function cleanup() {
  shelf.kill('SIGTERM');
  execFileSync('bash', [harness, 'stop', www, String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}

try {
  // Warm the cache: every measured Shelf request is a HIT.
  for (const file of files) await (await fetch(`http://127.0.0.1:${shelfPort}/cache/${file.name}`)).arrayBuffer();

  const rows = [];
  for (const file of files) {
    const options = { connections: file.connections, seconds };
    const nginx = measure(`http://127.0.0.1:${nginxPort}/${file.name}`, options);
    const shelfResult = measure(`http://127.0.0.1:${shelfPort}/cache/${file.name}`, options);
    rows.push(...compareRows(file.name, 'nginx', nginx, shelfResult));
  }
  console.log(`\n${seconds}s per run, keep-alive, loopback; Shelf serving cached (HIT) files from a remote repository`);
  console.table(rows);
} finally {
  await cleanup();
}
