// High availability: cache HITs (1 KiB, where the index's cost shows most, and 1 MiB) from one node on SQLite,
// one node on PostgreSQL, and 1, 2 and 3 PostgreSQL nodes sharing a data directory behind nginx as the load
// balancer, in one run. Direct, SQLite against PostgreSQL is the index's cost per request (p50/p99); behind
// the load balancer, 1 node on SQLite is the baseline for 1, 2 and 3 nodes. A benchmark, not a test.
// usage: npm run bench:ha [-- --seconds 10 --workers 1 --repeats 3 --json FILE]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const options = benchOptions();
const { seconds, repeats } = options;
// One worker per node unless told otherwise: on a small machine three nodes already share the CPUs.
const workers = options.workers || 1;
const harness = (name) => new URL(`../test/harness/${name}`, import.meta.url).pathname;

const files = [
  { name: '1k.bin', bytes: 1024, connections: 32 },
  { name: '1m.bin', bytes: 1024 * 1024, connections: 16 },
];

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-ha-'));
chmodSync(root, 0o755);
const www = join(root, 'www');
mkdirSync(www);
chmodSync(www, 0o755);
for (const file of files) writeFileSync(join(www, file.name), randomBytes(file.bytes));
const upstreamPort = await freePort();
execFileSync('bash', [harness('static-upstream.sh'), 'start', www, String(upstreamPort)]);

const pgDir = join(root, 'postgres');
const pgPort = await freePort();
execFileSync(harness('postgres.sh'), ['init', pgDir]);
execFileSync(harness('postgres.sh'), ['start', pgDir, String(pgPort)]);
execFileSync(harness('postgres.sh'), ['createdb', pgDir, String(pgPort), 'shelf']);
const postgres = `index: { type: postgres, url: "postgres://shelf@127.0.0.1:${pgPort}/shelf" }`;

const repository = `{ key: cache, format: generic, type: remote, url: "http://127.0.0.1:${upstreamPort}/", metadataTtlSeconds: 86400 }`;
const servers = [];
const balancers = [];
const start = async (name, storage, dataDir) => {
  const port = await freePort();
  servers.push(await startShelfServer(root, { name, port, workers, repository, storage, dataDir, server: `nodeId: ${name}` }));
  return port;
};
const balance = async (name, ports) => {
  const port = await freePort();
  const run = join(root, name);
  execFileSync(harness('load-balancer.sh'), ['start', run, String(port), ...ports.map(String)], { env: { ...process.env, NGINX_WORKERS: '1' } });
  balancers.push(run);
  return port;
};

try {
  const sqlitePort = await start('sqlite', '', join(root, 'sqlite-data'));
  const shared = join(root, 'shared-data');
  const nodePorts = [];
  for (let i = 1; i <= 3; i++) nodePorts.push(await start(`pg-${i}`, postgres, shared));
  const lb = {
    sqlite: await balance('lb-sqlite', [sqlitePort]),
    1: await balance('lb-1', nodePorts.slice(0, 1)),
    2: await balance('lb-2', nodePorts.slice(0, 2)),
    3: await balance('lb-3', nodePorts),
  };
  // Every measured request is a HIT on every node.
  for (const port of [sqlitePort, ...nodePorts]) for (const file of files) await (await fetch(`http://127.0.0.1:${port}/cache/${file.name}`)).arrayBuffer();

  const report = new Report('high availability: cache HITs, SQLite against PostgreSQL, 1 to 3 nodes behind nginx', {
    facts: machineFacts({ nginx: ['nginx', '-v'], postgres: ['psql', '--version'] }),
    settings: { seconds, repeats, workersPerNode: workers, loadBalancer: 'nginx, 1 worker, keepalive 32', postgres: 'on this machine, fsync off' },
  });
  for (const file of files) {
    report.load(`${file.name} direct`, [
      { name: 'sqlite', url: `http://127.0.0.1:${sqlitePort}/cache/${file.name}` },
      { name: 'postgres', url: `http://127.0.0.1:${nodePorts[0]}/cache/${file.name}` },
    ], { connections: file.connections, seconds, repeats });
    report.load(`${file.name} behind nginx`, [
      { name: 'sqlite x1', url: `http://127.0.0.1:${lb.sqlite}/cache/${file.name}` },
      { name: 'postgres x1', url: `http://127.0.0.1:${lb[1]}/cache/${file.name}` },
      { name: 'postgres x2', url: `http://127.0.0.1:${lb[2]}/cache/${file.name}` },
      { name: 'postgres x3', url: `http://127.0.0.1:${lb[3]}/cache/${file.name}` },
    ], { connections: file.connections, seconds, repeats });
  }
  report.save(options.json);
} finally {
  for (const run of balancers) execFileSync(harness('load-balancer.sh'), ['stop', run]);
  for (const server of servers) await stopShelfServer(server);
  execFileSync(harness('postgres.sh'), ['stop', pgDir]);
  execFileSync('bash', [harness('static-upstream.sh'), 'stop', www, String(upstreamPort)]);
  rmSync(root, { recursive: true, force: true });
}
