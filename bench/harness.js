// What the benchmarks share: their common options, the machine's facts, free ports, Shelf started with one
// repository, waiting for a server, wrk runs parsed into numbers, and a report of repeated runs (medians
// and spread, ratios to the peer) printed as tables and written as JSON.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/**
 * `shelf serve` from this checkout's build, on loopback, with `repository` (a YAML flow mapping) only,
 * or `repositories`, open to anyone for `anonymous` (reading, by default), logging at its default level (every request) into `root/<name>.log`, as deployed.
 * `server` and `storage` add YAML flow entries to those sections (a PostgreSQL index, a shared `dataDir`).
 */
export async function startShelfServer(
  root,
  { port, workers, repository, repositories = [repository], anonymous = ['read'], server = '', storage = '', name = 'shelf', dataDir = join(root, 'data') },
) {
  writeFileSync(
    join(root, `${name}.yaml`),
    `server: { host: 127.0.0.1, port: ${port}, workers: ${workers}${server && `, ${server}`} }
storage: { dataDir: ${dataDir}${storage && `, ${storage}`} }
security: { permissions: [{ name: bench, repositories: [ANY], anonymous: [${anonymous.join(', ')}] }] }
repositories:
${repositories.map((r) => `  - ${r}\n`).join('')}`,
  );
  const log = openSync(join(root, `${name}.log`), 'a');
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', join(root, `${name}.yaml`)], { stdio: ['ignore', log, log] });
  closeSync(log);
  await waitForOk(`http://127.0.0.1:${port}/-/healthz`);
  return child;
}

/** Resident memory of a process and its children (Shelf's primary and workers), in MiB. */
export function residentMiB(pid) {
  const rssKiB = (p) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  return Math.round((rssKiB(pid) + children.reduce((sum, child) => sum + rssKiB(child), 0)) / 1024);
}

/** Stops a server started by startShelfServer and waits until it has exited. */
export async function stopShelfServer(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function waitForOk(url) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

/**
 * The options every bench takes (`--seconds`, `--workers`, `--repeats`, `--json FILE`) and its own.
 * `workers` 0 means one per CPU, for Shelf and for the peer alike.
 */
export function benchOptions(own = {}) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      workers: { type: 'string', default: '0' },
      repeats: { type: 'string', default: '3' },
      json: { type: 'string' },
      ...own,
    },
  });
  const workers = Number(values.workers) || availableParallelism();
  return { ...values, seconds: Number(values.seconds), repeats: Math.max(1, Number(values.repeats)), workers };
}

/** The first line a tool prints about itself (on stdout or stderr, whatever its exit status). */
const firstLine = (command, args) => {
  const { stdout, stderr, error } = spawnSync(command, args, { encoding: 'utf8' });
  if (error) return 'not installed';
  return `${stdout}${stderr}`.trim().split('\n')[0];
};

/** Versions of the tools a bench compares with: `{ nginx: ['nginx', '-v'], … }`. */
export function machineFacts(tools = {}) {
  const shelf = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    shelf,
    wrk: firstLine('wrk', ['-v']),
    ...Object.fromEntries(Object.entries(tools).map(([name, [command, ...args]]) => [name, firstLine(command, args)])),
  };
}

const LATENCY_UNITS = { us: 0.001, ms: 1, s: 1000 };

/** wrk (Debian's package) generates the load from C, so the client is not the bottleneck; `script`: a Lua file choosing the requests. */
export function measure(url, { connections, seconds, headers = [], script }) {
  const out = execFileSync(
    'wrk',
    ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), ...(script ? ['-s', script] : []), url],
    { encoding: 'utf8' },
  );
  const number = (re) => Number(re.exec(out)?.[1] ?? NaN);
  const m = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m?.[2]] ?? NaN;
  const percentile = (p) => {
    const found = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return found ? Number(found[1]) * LATENCY_UNITS[found[2]] : NaN;
  };
  return {
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    mbps: (Number(m?.[1]) * unit) / 1e6,
    p50ms: percentile(50),
    p90ms: percentile(90),
    p99ms: percentile(99),
    requests: number(/(\d+) requests in/),
    errors: (number(/Non-2xx or 3xx responses: (\d+)/) || 0) + (number(/Socket errors: .*?timeout (\d+)/) || 0),
  };
}

export const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const round = (n, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/** `median (min–max)` of runs, as printed. */
const spread = (values, digits) =>
  values.length === 1 ? `${round(values[0], digits)}` : `${round(median(values), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;

/**
 * Collects a bench's cases, each measured `repeats` times per server with the servers taking turns (so
 * that a noisy moment hits all of them), prints them with their medians, spreads and ratios, and writes
 * everything, each run included, as JSON.
 */
export class Report {
  constructor(name, { facts, settings }) {
    this.name = name;
    this.facts = facts;
    this.settings = settings;
    this.cases = [];
    console.log(`\n${name}`);
    console.table(facts);
    console.table(settings);
  }

  /**
   * wrk against each of `servers` ({ name, url }) `repeats` times; ratios are each server's median to the
   * first's (the peer), and to `ceiling` when one is named.
   */
  load(label, servers, { connections, seconds, headers = [], repeats }) {
    const runs = new Map(servers.map((s) => [s.name, []]));
    for (let i = 0; i < repeats; i++) {
      for (const server of servers) runs.get(server.name).push(measure(server.url, { connections, seconds, headers }));
    }
    const entry = { case: label, kind: 'load', connections, servers: [] };
    for (const server of servers) {
      const list = runs.get(server.name);
      const pick = (key) => list.map((r) => r[key]);
      entry.servers.push({
        name: server.name,
        runs: list,
        median: Object.fromEntries(['rps', 'mbps', 'p50ms', 'p90ms', 'p99ms'].map((key) => [key, median(pick(key))])),
        errors: pick('errors').reduce((a, b) => a + b, 0),
      });
    }
    this.cases.push(entry);
    const rows = entry.servers.map((s) => ({
      case: label,
      server: s.name,
      'req/s': spread(s.runs.map((r) => r.rps), 0),
      'MB/s': spread(s.runs.map((r) => r.mbps), 1),
      'p50 ms': round(s.median.p50ms, 2),
      'p90 ms': round(s.median.p90ms, 2),
      'p99 ms': round(s.median.p99ms, 2),
      errors: s.errors,
    }));
    console.table(rows);
    this.printRatios(label, entry.servers, (s) => s.median.rps, 'req/s');
  }

  /** Wall times (`run(server)` → ms) of a real client's job against each server, `repeats` times, taking turns. */
  times(label, servers, repeats, run) {
    const runs = Object.fromEntries(servers.map((s) => [s.name, []]));
    for (let i = 0; i < repeats; i++) for (const server of servers) runs[server.name].push(run(server));
    this.recordTimes(label, runs);
  }

  /** Wall times measured by the bench itself: `{ server: [ms, …] }`, the peer first. */
  recordTimes(label, runs) {
    const entry = {
      case: label,
      kind: 'time',
      servers: Object.entries(runs).map(([name, list]) => ({ name, runs: list, median: { ms: median(list) } })),
    };
    this.cases.push(entry);
    console.table(entry.servers.map((s) => ({ case: label, server: s.name, 'ms, median (min–max)': spread(s.runs, 0) })));
    this.printRatios(label, entry.servers, (s) => s.median.ms, 'time');
  }

  /** Other figures a bench measures (RSS, counts), recorded as they are. */
  figures(label, rows) {
    this.cases.push({ case: label, kind: 'figures', rows });
    console.log(label);
    console.table(rows);
  }

  printRatios(label, servers, value, what) {
    const [peer, ...others] = servers;
    const ratios = others.map((s) => ({ case: label, ratio: `${s.name}/${peer.name}`, [what]: round(value(s) / value(peer), 2) }));
    const entry = this.cases.at(-1);
    entry.ratios = ratios;
    if (ratios.length) console.table(ratios);
  }

  /** Writes the JSON record when `--json FILE` was given. */
  save(file) {
    if (!file) return;
    const record = { bench: this.name, date: new Date().toISOString(), facts: this.facts, settings: this.settings, cases: this.cases };
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    console.log(`\nwritten: ${file}`);
  }
}
