// npm through Shelf against Verdaccio 6.8 itself, in the same run: Shelf's npm-remote caches a Verdaccio
// seeded with the test fixtures, and both serve the same packuments and tarballs. Prints requests/s,
// MB/s and Shelf/Verdaccio ratios, then wall time of `npm install` with an empty npm cache against each.
// A benchmark, not a test: no thresholds. usage: npm run bench:npm [-- --seconds 10 --workers 2]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ installs: { type: 'string', default: '5' } });
const { seconds, workers, repeats } = values;
const harness = new URL('../test/harness/npm/', import.meta.url).pathname;

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-npm-'));
const template = join(tmpdir(), 'shelf-test-npm-fixtures');
execFileSync('bash', [join(harness, 'fixture-storage.sh'), template, '8'], { stdio: 'inherit' });
cpSync(join(template, 'storage'), join(root, 'verdaccio', 'storage'), { recursive: true });

const verdaccioPort = await freePort();
const shelfPort = await freePort();
execFileSync('bash', [join(harness, 'verdaccio.sh'), 'start', join(root, 'verdaccio'), String(verdaccioPort)]);
const shelf = await startShelfServer(root, {
  port: shelfPort,
  workers,
  repository: `{ key: npm, format: npm, type: remote, url: "http://127.0.0.1:${verdaccioPort}/", metadataTtlSeconds: 86400 }`,
});

const verdaccio = `http://127.0.0.1:${verdaccioPort}`;
const shelfUrl = `http://127.0.0.1:${shelfPort}/npm`;
const corgi = 'Accept: application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const cases = [
  { label: 'packument (abbreviated)', path: '/shelf-fix-many', connections: 32, headers: [corgi] },
  { label: 'packument (full)', path: '/shelf-fix-many', connections: 32, headers: ['Accept: application/json'] },
  { label: 'tarball 300 B', path: '/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz', connections: 32, headers: [] },
  { label: 'tarball 8 MiB', path: '/shelf-fix-big/-/shelf-fix-big-1.0.0.tgz', connections: 8, headers: [] },
];
const TREE = ['shelf-fix-a', '@shelf/scoped', 'shelf-fix-many@next', 'shelf-fix-big'];

/** Wall time of `npm install` of the fixture tree into a new project with an empty cache. */
function timeInstall(registry) {
  const dir = mkdtempSync(join(root, 'install-'));
  mkdirSync(join(dir, 'project'));
  writeFileSync(join(dir, 'project', 'package.json'), '{"name":"bench","version":"1.0.0","private":true}');
  writeFileSync(join(dir, 'npmrc'), `registry=${registry}/\naudit=false\nfund=false\nupdate-notifier=false\n`);
  const started = process.hrtime.bigint();
  execFileSync('npm', ['install', ...TREE], {
    cwd: join(dir, 'project'),
    env: { PATH: process.env.PATH, HOME: dir, npm_config_userconfig: join(dir, 'npmrc'), npm_config_cache: join(dir, 'cache') },
    stdio: 'ignore',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

try {
  // Warm Shelf: every measured request is served from its cache.
  timeInstall(shelfUrl);
  const report = new Report('npm: cache HITs and npm install through Shelf against Verdaccio serving the same packages', {
    facts: machineFacts({ npm: ['npm', '-v'], verdaccio: ['node', '-p', `require('${join(tmpdir(), 'shelf-test-verdaccio-6.8.0', 'node_modules', 'verdaccio', 'package.json')}').version`] }),
    settings: { seconds, repeats, installs: Number(values.installs), shelfWorkers: workers, verdaccioWorkers: '1 (one Node process)' },
  });
  for (const c of cases) {
    const servers = [
      { name: 'verdaccio', url: `${verdaccio}${c.path}` },
      { name: 'shelf', url: `${shelfUrl}${c.path}` },
    ];
    report.load(c.label, servers, { connections: c.connections, seconds, repeats, headers: c.headers });
  }
  const installs = [{ name: 'verdaccio', url: verdaccio }, { name: 'shelf (warm)', url: shelfUrl }];
  report.times(`npm install ${TREE.join(' ')} (empty npm cache)`, installs, Number(values.installs), (server) => timeInstall(server.url));
  report.save(values.json);
} finally {
  await stopShelfServer(shelf);
  execFileSync('bash', [join(harness, 'verdaccio.sh'), 'stop', join(root, 'verdaccio'), String(verdaccioPort)]);
  rmSync(root, { recursive: true, force: true });
}
