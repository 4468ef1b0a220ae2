// Docker pulls through Shelf against distribution (Debian's docker-registry) in proxy mode, both caching the
// same upstream registry, in the same run (a benchmark, not a test: no thresholds). skopeo copies an image
// set (busybox, an image sharing its base layer, a multi-arch index, a --big MiB layer):
// - cold: each run against a proxy that has never seen the images (a fresh distribution, a new Shelf remote),
//   counting what each asked of the upstream (its access log);
// - warm: again through the same proxies;
// - concurrent: --concurrent copies of the big image at once through a cold proxy.
// usage: npm run bench:docker [-- --workers 2 --repeats 3 --big 100 --concurrent 10 --json FILE]
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ big: { type: 'string', default: '100' }, concurrent: { type: 'string', default: '10' } });
const { workers, repeats } = values;
const concurrent = Number(values.concurrent);
const harness = new URL('../test/harness/docker/', import.meta.url).pathname;
const registrySh = join(harness, 'upstream-registry.sh');

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-docker-'));
// The layouts are kept between runs of the bench (building them takes a while).
const images = join(tmpdir(), `shelf-bench-docker-images-${values.big}`);
execFileSync('bash', [join(harness, 'make-images.sh'), images, values.big], { stdio: ['ignore', 'ignore', 'inherit'] });

async function startRegistry(name, ...args) {
  const dir = join(root, name);
  const port = String(await freePort());
  execFileSync('bash', [registrySh, 'start', dir, port, ...args], { stdio: 'ignore' });
  return {
    host: `127.0.0.1:${port}`,
    stop: () => execFileSync('bash', [registrySh, 'stop', dir, port]),
    /** Requests in its access log so far, by kind. */
    requests: () => {
      const log = existsSync(join(dir, 'registry.log')) ? readFileSync(join(dir, 'registry.log'), 'utf8') : '';
      const count = (re) => log.split('\n').filter((line) => re.test(line)).length;
      return { blobGets: count(/"GET \/v2\/.+\/blobs\//), manifestRequests: count(/"(GET|HEAD) \/v2\/.+\/manifests\//), all: count(/"(GET|HEAD) \/v2\//) };
    },
  };
}

const upstream = await startRegistry('upstream');
execFileSync('bash', [join(harness, 'push-images.sh'), upstream.host, images], { stdio: 'ignore' });
const SET = ['library/busybox:1.0', 'team/app/api:1.0', 'multi/arch:1.0', 'big/blob:1.0'];

const remote = (key) => `{ key: ${key}, format: docker, type: remote, url: "http://${upstream.host}" }`;
const coldKeys = Array.from({ length: repeats + 1 }, (_, i) => `cold-${i + 1}`);
const shelfPort = await freePort();
const shelf = await startShelfServer(root, { port: shelfPort, workers, repositories: [remote('warm'), ...coldKeys.map(remote)] });
const shelfHost = `127.0.0.1:${shelfPort}`;

const run = promisify(execFile);
/** skopeo copy of `image` from `prefix` (host and path) into a fresh directory, all platforms; the directory is removed. */
async function copy(prefix, image) {
  const dest = mkdtempSync(join(root, 'pull-'));
  try {
    await run('skopeo', ['copy', '-q', '--all', '--src-tls-verify=false', `docker://${prefix}/${image}`, `dir:${dest}`]);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}
const timed = async (work) => {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
};
const pullSet = (prefix) => timed(async () => {
  for (const image of SET) await copy(prefix, image);
});

const proxies = [];
const startProxy = async () => {
  const proxy = await startRegistry(`proxy-${proxies.length + 1}`, '--proxy', `http://${upstream.host}`);
  proxies.push(proxy);
  return proxy;
};
try {
  const report = new Report('docker: skopeo pulls through Shelf against distribution in proxy mode', {
    facts: machineFacts({ distribution: ['docker-registry', '--version'], skopeo: ['skopeo', '--version'] }),
    settings: { repeats, shelfWorkers: workers, distributionProcesses: 1, images: SET.join(' '), bigLayerMiB: Number(values.big), concurrent },
  });

  const cold = { distribution: [], shelf: [] };
  const upstreamRequests = [];
  for (let i = 0; i < repeats; i++) {
    const proxy = await startProxy();
    let before = upstream.requests();
    cold.distribution.push(await pullSet(proxy.host));
    const after = upstream.requests();
    upstreamRequests.push({ run: i + 1, server: 'distribution', ...difference(after, before) });
    before = after;
    cold.shelf.push(await pullSet(`${shelfHost}/${coldKeys[i]}`));
    upstreamRequests.push({ run: i + 1, server: 'shelf', ...difference(upstream.requests(), before) });
    if (i < repeats - 1) proxy.stop();
  }
  report.recordTimes('pull of the image set, cold proxy', cold);
  report.figures('requests each cold pull made of the upstream', upstreamRequests);

  const warmProxy = proxies.at(-1);
  await pullSet(`${shelfHost}/warm`);
  const servers = [{ name: 'distribution', prefix: warmProxy.host }, { name: 'shelf', prefix: `${shelfHost}/warm` }];
  const warm = { distribution: [], shelf: [] };
  for (let i = 0; i < repeats; i++) for (const server of servers) warm[server.name].push(await pullSet(server.prefix));
  report.recordTimes('pull of the image set, warm proxy', warm);

  const burst = {};
  const burstRequests = [];
  const coldShelf = `${shelfHost}/${coldKeys.at(-1)}`;
  for (const [name, prefix] of [['distribution', (await startProxy()).host], ['shelf', coldShelf]]) {
    const before = upstream.requests();
    burst[name] = [await timed(() => Promise.all(Array.from({ length: concurrent }, () => copy(prefix, 'big/blob:1.0'))))];
    burstRequests.push({ server: name, ...difference(upstream.requests(), before) });
  }
  report.recordTimes(`${concurrent} concurrent pulls of big/blob:1.0, cold proxy`, burst);
  report.figures(`requests the ${concurrent} concurrent cold pulls made of the upstream`, burstRequests);
  report.save(values.json);
} finally {
  for (const proxy of proxies) proxy.stop();
  await stopShelfServer(shelf);
  upstream.stop();
  rmSync(root, { recursive: true, force: true });
}

function difference(after, before) {
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - before[key]]));
}
