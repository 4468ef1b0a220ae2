// Serves 1 KiB, 1 MiB and 100 MiB cached files through Shelf and the same files through nginx, in the
// same run, and prints requests/s, MB/s and the Shelf/nginx ratio. A benchmark, not a test: no thresholds.
// usage: npm run bench [-- --seconds 10 --workers 2]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, workers: { type: 'string', default: '0' } },
});
const seconds = Number(values.seconds);
const harness = new URL('../test/harness/static-upstream.sh', import.meta.url).pathname;

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

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
writeFileSync(
  join(root, 'shelf.yaml'),
  `server: { host: 127.0.0.1, port: ${shelfPort}, workers: ${Number(values.workers)} }
storage: { dataDir: ${join(root, 'data')} }
logging: { level: warn }
repositories:
  - { key: cache, format: generic, type: remote, url: "http://127.0.0.1:${nginxPort}/", metadataTtlSeconds: 86400 }
`,
);
const shelf = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', join(root, 'shelf.yaml')], {
  stdio: 'inherit',
});

async function cleanup() {
  shelf.kill('SIGTERM');
  execFileSync('bash', [harness, 'stop', www, String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}

try {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${shelfPort}/-/healthz`)).ok) break;
    } catch {}
    await sleep(100);
  }
  // Warm the cache: every measured Shelf request is a HIT.
  for (const file of files) await (await fetch(`http://127.0.0.1:${shelfPort}/cache/${file.name}`)).arrayBuffer();

  // wrk (Debian's package) generates the load from C, so the client is not the bottleneck.
  const measure = (url, connections) => {
    const out = execFileSync('wrk', ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--latency', url], {
      encoding: 'utf8',
    });
    const number = (re) => Number(re.exec(out)?.[1] ?? NaN);
    const bytesPerSecond = (() => {
      const m = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
      const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m?.[2]] ?? NaN;
      return Number(m?.[1]) * unit;
    })();
    const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
    return {
      rps: number(/Requests\/sec:\s+([\d.]+)/),
      bytesPerSecond,
      p99ms: p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : NaN,
      errors: number(/Non-2xx or 3xx responses: (\d+)/) || 0,
    };
  };

  const rows = [];
  for (const file of files) {
    const nginx = await measure(`http://127.0.0.1:${nginxPort}/${file.name}`, file.connections);
    const shelfResult = await measure(`http://127.0.0.1:${shelfPort}/cache/${file.name}`, file.connections);
    const row = (server, r) => ({
      file: file.name,
      server,
      'req/s': Math.round(r.rps),
      'MB/s': Math.round((r.bytesPerSecond / 1e6) * 10) / 10,
      'p99 ms': Math.round(r.p99ms * 10) / 10,
      errors: r.errors,
    });
    rows.push(row('nginx', nginx), row('shelf', shelfResult));
    rows.push({
      file: file.name,
      server: 'shelf/nginx',
      'req/s': Math.round((shelfResult.rps / nginx.rps) * 100) / 100,
      'MB/s': Math.round((shelfResult.bytesPerSecond / nginx.bytesPerSecond) * 100) / 100,
      'p99 ms': '',
      errors: '',
    });
  }
  console.log(`\n${seconds}s per run, keep-alive, loopback; Shelf serving cached (HIT) files from a remote repository`);
  console.table(rows);
} finally {
  await cleanup();
}
