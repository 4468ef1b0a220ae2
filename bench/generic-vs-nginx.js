// Serves 1 KiB, 1 MiB and 100 MiB cached files through Shelf and the same files through nginx (with as many
// workers as Shelf, sendfile on), in the same run, and prints requests/s, MB/s, latency percentiles and the
// Shelf/nginx ratios; for 1 KiB also against the ceiling of any Node server here (node:http answering from
// memory); for 1 MiB and 100 MiB also through a front nginx that sends Shelf's verified blobs with sendfile
// (server.xAccelLocation, the site from `shelf service nginx-front`). A benchmark, not a test: no thresholds.
// usage: npm run bench [-- --seconds 10 --workers 2 --repeats 3 --sizes 1k,1m,100m --json FILE]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer, waitForOk } from './harness.js';

const options = benchOptions({ sizes: { type: 'string', default: '1k,1m,100m' } });
const { seconds, workers, repeats } = options;
const harness = new URL('../test/harness/static-upstream.sh', import.meta.url).pathname;
const frontHarness = new URL('../test/harness/front-nginx.sh', import.meta.url).pathname;

const files = [
  { name: '1k.bin', bytes: 1024, connections: 32 },
  { name: '1m.bin', bytes: 1024 * 1024, connections: 16 },
  { name: '100m.bin', bytes: 100 * 1024 * 1024, connections: 4 },
].filter((file) => options.sizes.split(',').includes(file.name.replace('.bin', '')));

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-'));
chmodSync(root, 0o755);
const www = join(root, 'www');
execFileSync('mkdir', ['-p', www]);
chmodSync(www, 0o755);
for (const file of files) writeFileSync(join(www, file.name), randomBytes(file.bytes));

const nginxPort = await freePort();
const shelfPort = await freePort();
const helloPort = await freePort();
const frontPort = await freePort();
const nginxEnv = { ...process.env, NGINX_WORKERS: String(workers) };
execFileSync('bash', [harness, 'start', www, String(nginxPort)], { env: nginxEnv });
const shelf = await startShelfServer(root, {
  port: shelfPort,
  workers,
  repository: `{ key: cache, format: generic, type: remote, url: "http://127.0.0.1:${nginxPort}/", metadataTtlSeconds: 86400 }`,
  // Only requests through the front nginx (which says so) are answered with X-Accel-Redirect.
  server: 'xAccelLocation: /_shelf/blobs/, trustProxy: true',
});
const site = join(root, 'front.conf');
execFileSync(process.execPath, ['dist/cli/main.js', 'service', 'nginx-front', '--config', join(root, 'shelf.yaml'), '--listen', `127.0.0.1:${frontPort}`, '--output', site]);
execFileSync('bash', [frontHarness, 'start', site, join(root, 'front')], { env: nginxEnv });
const hello = spawn(process.execPath, [new URL('node-hello.js', import.meta.url).pathname, String(helloPort), String(workers), '1024'], { stdio: 'inherit' });

try {
  await waitForOk(`http://127.0.0.1:${helloPort}/`);
  // Warm the cache: every measured Shelf request is a HIT. Each worker verifies each file once before it lets
  // the front nginx send it; the connections are dealt to the workers in turn.
  for (const file of files) await (await fetch(`http://127.0.0.1:${shelfPort}/cache/${file.name}`)).arrayBuffer();
  for (const file of files) for (let i = 0; i < 2 * workers; i++) await (await fetch(`http://127.0.0.1:${frontPort}/cache/${file.name}`)).arrayBuffer();

  const report = new Report('generic: cache HITs through Shelf against nginx serving the files', {
    facts: machineFacts({ nginx: ['nginx', '-v'] }),
    settings: { seconds, repeats, shelfWorkers: workers, nginxWorkers: workers, frontNginxWorkers: workers, shelfLogging: 'info, to a file', nginxLogging: 'access log' },
  });
  for (const file of files) {
    const servers = [
      { name: 'nginx', url: `http://127.0.0.1:${nginxPort}/${file.name}` },
      { name: 'shelf', url: `http://127.0.0.1:${shelfPort}/cache/${file.name}` },
      ...(file.bytes === 1024
        ? [{ name: 'node:http', url: `http://127.0.0.1:${helloPort}/` }]
        : [{ name: 'shelf+front', url: `http://127.0.0.1:${frontPort}/cache/${file.name}` }]),
    ];
    report.load(file.name, servers, { connections: file.connections, seconds, repeats });
    if (file.bytes === 1024) {
      const [, shelfRun, node] = report.cases.at(-1).servers;
      console.log(`shelf/node:http req/s: ${Math.round((shelfRun.median.rps / node.median.rps) * 100) / 100}`);
    }
  }
  report.save(options.json);
} finally {
  hello.kill('SIGTERM');
  await stopShelfServer(shelf);
  execFileSync('bash', [frontHarness, 'stop', site, join(root, 'front')]);
  execFileSync('bash', [harness, 'stop', www, String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}
