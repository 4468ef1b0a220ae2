// npm through Shelf against Verdaccio 6.8, in the same run (a benchmark, not a test: no thresholds).
// The upstream is a Verdaccio seeded with the test fixtures and, unless --offline, caching the npm registry
// that `npm config get registry` names, so that a real project resolves: it is warmed once, then serves
// everything from its storage. Measured:
// - cache HITs (wrk): packuments and tarballs from that Verdaccio directly and from Shelf's warm remote;
// - `npm install` of a small backend project, cold (Verdaccio as a caching proxy with empty storage,
//   Shelf with an empty remote repository, both in front of the upstream) and warm;
// - 32 large packuments (typescript, @types/node, ...) fetched through both proxies: then the latency of
//   warm answers (gzip accepted, not unzipped: what the server does) and each proxy's resident memory.
// usage: npm run bench:npm [-- --seconds 10 --workers 2 --repeats 3 --installs 3 --offline --json FILE]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, residentMiB, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ installs: { type: 'string', default: '3' }, offline: { type: 'boolean', default: false } });
const { seconds, workers, repeats } = values;
const installs = Number(values.installs);
const harness = new URL('../test/harness/npm/', import.meta.url).pathname;
const verdaccioSh = join(harness, 'verdaccio.sh');
const registry = values.offline ? undefined : execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();

const FIXTURES = ['shelf-fix-a', '@shelf/scoped', 'shelf-fix-many@next', 'shelf-fix-big'];
const BACKEND = ['express', 'pg', 'jsonwebtoken', 'zod', 'pino', 'axios', 'lodash'];
const LARGE = (
  'typescript @types/node aws-sdk @aws-sdk/client-s3 next react-dom react electron webpack @babel/core eslint npm firebase ' +
  '@angular/core vue rxjs moment core-js prettier esbuild @swc/core vite jest @typescript-eslint/parser ' +
  '@typescript-eslint/eslint-plugin sass three @types/react undici @mui/material tailwindcss @nestjs/core'
).split(' ');
const project = registry ? BACKEND : FIXTURES;

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-npm-'));
const template = join(tmpdir(), 'shelf-test-npm-fixtures');
execFileSync('bash', [join(harness, 'fixture-storage.sh'), template, '8'], { stdio: 'inherit' });
cpSync(join(template, 'storage'), join(root, 'upstream', 'storage'), { recursive: true });

/** Verdaccio in `dir` on `port`, a caching proxy of `uplink` when given. */
function startVerdaccio(dir, port, uplink) {
  const env = { ...process.env, ...(uplink && { VERDACCIO_UPLINK: uplink, VERDACCIO_MAXAGE: '30d' }) };
  execFileSync('bash', [verdaccioSh, 'start', dir, String(port)], { env });
  return { url: `http://127.0.0.1:${port}`, pid: () => Number(readFileSync(join(dir, 'pid'), 'utf8')), stop: () => execFileSync('bash', [verdaccioSh, 'stop', dir, String(port)]) };
}

const upstream = startVerdaccio(join(root, 'upstream'), await freePort(), registry);
const proxyPort = await freePort();
let proxyRun = 0;
const startProxy = () => startVerdaccio(join(root, `proxy-${++proxyRun}`), proxyPort, `${upstream.url}/`);
const remote = (key) => `{ key: ${key}, format: npm, type: remote, url: "${upstream.url}/", metadataTtlSeconds: 86400 }`;
const shelfPort = await freePort();
const coldKeys = Array.from({ length: installs }, (_, i) => `cold-${i + 1}`);
const shelf = await startShelfServer(root, { port: shelfPort, workers, repositories: [remote('npm'), ...coldKeys.map(remote)] });
const shelfUrl = (key = 'npm') => `http://127.0.0.1:${shelfPort}/${key}`;

/** Wall time of `npm install` of `packages` into a new project with an empty npm cache. */
function timeInstall(registryUrl, packages) {
  const dir = mkdtempSync(join(root, 'install-'));
  mkdirSync(join(dir, 'project'));
  writeFileSync(join(dir, 'project', 'package.json'), '{"name":"bench","version":"1.0.0","private":true}');
  writeFileSync(join(dir, 'npmrc'), `registry=${registryUrl}/\naudit=false\nfund=false\nupdate-notifier=false\n`);
  const started = process.hrtime.bigint();
  execFileSync('npm', ['install', ...packages], {
    cwd: join(dir, 'project'),
    env: { PATH: process.env.PATH, HOME: dir, npm_config_userconfig: join(dir, 'npmrc'), npm_config_cache: join(dir, 'cache') },
    stdio: 'ignore',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const encoded = (name) => name.replace('/', '%2f');

/** One GET with gzip accepted, the body counted but not unzipped; resolves to the milliseconds it took. */
function timedGet(agent, url, accept) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    http
      .get(url, { agent, headers: { accept, 'accept-encoding': 'gzip' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`${url}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** Every large packument, full and abbreviated, once (`rounds` times), one request at a time; the latencies. */
async function packumentLatencies(base, rounds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  for (let round = 0; round < rounds; round++) {
    for (const name of LARGE) for (const accept of ['application/json', CORGI]) times.push(await timedGet(agent, `${base}/${encoded(name)}`, accept));
  }
  agent.destroy();
  return times.sort((a, b) => a - b);
}

const percentile = (sorted, p) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] * 100) / 100;

let proxy;
try {
  const report = new Report('npm: Shelf against Verdaccio', {
    facts: machineFacts({ npm: ['npm', '-v'], verdaccio: ['node', '-p', `require('${join(tmpdir(), 'shelf-test-verdaccio-6.8.0', 'node_modules', 'verdaccio', 'package.json')}').version`] }),
    settings: { seconds, repeats, installs, shelfWorkers: workers, verdaccioProcesses: 1, project: project.join(' '), upstream: registry ? 'Verdaccio caching the npm registry (warmed once)' : 'Verdaccio with the fixtures (--offline)' },
  });

  // Warm the upstream from the registry (once), then Shelf's warm remote.
  if (registry) timeInstall(upstream.url, BACKEND);
  timeInstall(shelfUrl(), FIXTURES);
  for (const c of [
    { label: 'packument (abbreviated)', path: '/shelf-fix-many', connections: 32, headers: [`Accept: ${CORGI}`] },
    { label: 'packument (full)', path: '/shelf-fix-many', connections: 32, headers: ['Accept: application/json'] },
    { label: 'tarball 300 B', path: '/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz', connections: 32, headers: [] },
    { label: 'tarball 8 MiB', path: '/shelf-fix-big/-/shelf-fix-big-1.0.0.tgz', connections: 8, headers: [] },
  ]) {
    const servers = [{ name: 'verdaccio', url: `${upstream.url}${c.path}` }, { name: 'shelf', url: `${shelfUrl()}${c.path}` }];
    report.load(`HIT ${c.label}`, servers, { connections: c.connections, seconds, repeats, headers: c.headers });
  }

  // Cold: each run against a proxy that has never seen the project, taking turns.
  const cold = { 'verdaccio proxy': [], shelf: [] };
  for (let i = 0; i < installs; i++) {
    proxy = startProxy();
    cold['verdaccio proxy'].push(timeInstall(proxy.url, project));
    proxy.stop();
    cold.shelf.push(timeInstall(shelfUrl(coldKeys[i]), project));
  }
  report.recordTimes(`npm install ${project.join(' ')}, cold proxy, empty npm cache`, cold);

  proxy = startProxy();
  timeInstall(proxy.url, project);
  const servers = [{ name: 'verdaccio proxy', url: proxy.url }, { name: 'shelf', url: shelfUrl() }];
  timeInstall(shelfUrl(), project);
  report.times(`npm install ${project.join(' ')}, warm proxy, empty npm cache`, servers, installs, (server) => timeInstall(server.url, project));

  if (registry) {
    const rows = [];
    for (const server of servers) {
      // Fetched and cached by the proxy, and its views built by every process: a new connection goes to the next worker.
      for (let i = 0; i < (server.name === 'shelf' ? workers : 1); i++) await packumentLatencies(server.url, 1);
      const sorted = await packumentLatencies(server.url, repeats);
      const pid = server.name === 'shelf' ? shelf.pid : proxy.pid();
      rows.push({ server: server.name, 'p50 ms': percentile(sorted, 50), 'p90 ms': percentile(sorted, 90), 'p99 ms': percentile(sorted, 99), 'RSS MiB': residentMiB(pid) });
    }
    // Threads that built large documents are let go after 30 s idle (see workers/pool.ts), with their heaps.
    await new Promise((resolve) => setTimeout(resolve, 35_000));
    rows[0]['RSS MiB 35 s later'] = residentMiB(proxy.pid());
    rows[1]['RSS MiB 35 s later'] = residentMiB(shelf.pid);
    report.figures(`${LARGE.length} large packuments, full and abbreviated, warm (gzip, one connection), and resident memory after`, rows);
  }
  report.save(values.json);
} finally {
  proxy?.stop();
  await stopShelfServer(shelf);
  upstream.stop();
  rmSync(root, { recursive: true, force: true });
}
