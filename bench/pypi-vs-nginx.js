// PyPI through Shelf against nginx serving the same static PEP 503 index, in the same run: Shelf's remote
// repository caches that nginx. Prints requests/s, MB/s and Shelf/nginx ratios for a project page and for
// a small and an 8 MiB wheel, then wall time of `pip install` into a fresh venv against each.
// A benchmark, not a test: no thresholds. usage: npm run bench:pypi [-- --seconds 10 --workers 2 --installs 5]
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ installs: { type: 'string', default: '5' } });
const { seconds, workers, repeats } = values;
const staticUpstream = new URL('../test/harness/static-upstream.sh', import.meta.url).pathname;
const fixturesScript = new URL('../test/harness/pypi/fixtures.sh', import.meta.url).pathname;

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-pypi-'));
chmodSync(root, 0o755);
const fixtures = join(tmpdir(), 'shelf-test-pypi-fixtures');
execFileSync('bash', [fixturesScript, fixtures, '8']);
cpSync(join(fixtures, 'index'), join(root, 'www'), { recursive: true });
execFileSync('chmod', ['-R', 'a+rX', join(root, 'www')]);

const nginxPort = await freePort();
const shelfPort = await freePort();
execFileSync('bash', [staticUpstream, 'start', join(root, 'www'), String(nginxPort)], { env: { ...process.env, NGINX_WORKERS: String(workers) } });
const shelf = await startShelfServer(root, {
  port: shelfPort,
  workers,
  repository: `{ key: pypi, format: pypi, type: remote, url: "http://127.0.0.1:${nginxPort}/simple/", metadataTtlSeconds: 86400 }`,
});
const nginx = `http://127.0.0.1:${nginxPort}`;
const shelfUrl = `http://127.0.0.1:${shelfPort}/pypi`;
const cases = [
  { label: 'project page', nginx: '/simple/shelf-fix-b/', shelf: '/simple/shelf-fix-b/', connections: 32 },
  { label: 'wheel 1 KiB', nginx: '/packages/shelf_fix_b-2.0.0-py3-none-any.whl', shelf: '/packages/shelf-fix-b/shelf_fix_b-2.0.0-py3-none-any.whl', connections: 32 },
  { label: 'wheel 8 MiB', nginx: '/packages/shelf_fix_big-1.0.0-py3-none-any.whl', shelf: '/packages/shelf-fix-big/shelf_fix_big-1.0.0-py3-none-any.whl', connections: 8 },
];

/** Wall time of `pip install` of the fixture projects into a fresh venv, without pip's cache. */
function timeInstall(indexUrl) {
  const dir = mkdtempSync(join(root, 'venv-'));
  execFileSync('python3', ['-m', 'venv', dir]);
  const started = process.hrtime.bigint();
  execFileSync(join(dir, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', indexUrl, 'shelf-fix-a', 'shelf.fix-norm', 'shelf-fix-big'], {
    env: { PATH: process.env.PATH, HOME: dir, PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    stdio: 'ignore',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

try {
  timeInstall(`${shelfUrl}/simple/`); // warms Shelf's cache: every measured request is a HIT
  const report = new Report('pypi: cache HITs and pip install through Shelf against nginx serving the same index', {
    facts: machineFacts({ nginx: ['nginx', '-v'], pip: ['python3', '-m', 'pip', '--version'] }),
    settings: { seconds, repeats, installs: Number(values.installs), shelfWorkers: workers, nginxWorkers: workers },
  });
  for (const c of cases) {
    const servers = [
      { name: 'nginx', url: `${nginx}${c.nginx}` },
      { name: 'shelf', url: `${shelfUrl}${c.shelf}` },
    ];
    report.load(c.label, servers, { connections: c.connections, seconds, repeats, headers: c.headers });
  }
  const installs = [{ name: 'nginx', url: `${nginx}/simple/` }, { name: 'shelf (warm)', url: `${shelfUrl}/simple/` }];
  report.times('pip install shelf-fix-a shelf.fix-norm shelf-fix-big (fresh venv, no pip cache)', installs, Number(values.installs), (server) => timeInstall(server.url));
  report.save(values.json);
} finally {
  await stopShelfServer(shelf);
  execFileSync('bash', [staticUpstream, 'stop', join(root, 'www'), String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}
