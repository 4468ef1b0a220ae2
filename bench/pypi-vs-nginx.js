// PyPI through Shelf against nginx serving the same static PEP 503 index, in the same run: Shelf's remote
// repository caches that nginx. Prints requests/s, MB/s and Shelf/nginx ratios for a project page and for
// a small and an 8 MiB wheel, then wall time of `pip install` into a fresh venv against each.
// A benchmark, not a test: no thresholds. usage: npm run bench:pypi [-- --seconds 10 --workers 2 --installs 5]
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareInstalls, compareRows, freePort, measure, startShelfServer } from './harness.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, workers: { type: 'string', default: '0' }, installs: { type: 'string', default: '5' } },
});
const seconds = Number(values.seconds);
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
execFileSync('bash', [staticUpstream, 'start', join(root, 'www'), String(nginxPort)]);
const shelf = await startShelfServer(root, {
  port: shelfPort,
  workers: Number(values.workers),
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
  const rows = [];
  for (const c of cases) {
    const options = { connections: c.connections, seconds };
    rows.push(...compareRows(c.label, 'nginx', measure(`${nginx}${c.nginx}`, options), measure(`${shelfUrl}${c.shelf}`, options)));
  }
  console.log(`\n${seconds}s per run, keep-alive, loopback; Shelf's remote repository warm (HIT)`);
  console.table(rows);
  const title = 'pip install shelf-fix-a shelf.fix-norm shelf-fix-big (fresh venv, no pip cache)';
  compareInstalls(title, 'nginx', `${nginx}/simple/`, `${shelfUrl}/simple/`, Number(values.installs), timeInstall);
} finally {
  shelf.kill('SIGTERM');
  execFileSync('bash', [staticUpstream, 'stop', join(root, 'www'), String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}
