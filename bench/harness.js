// What the benchmarks share: free ports, Shelf started with one repository, waiting for a server, and a
// wrk run parsed into numbers.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** `shelf serve` from this checkout's build, on loopback, with `repository` (a YAML flow mapping) only, readable by anyone. */
export async function startShelfServer(root, { port, workers, repository }) {
  writeFileSync(
    join(root, 'shelf.yaml'),
    `server: { host: 127.0.0.1, port: ${port}, workers: ${workers} }
storage: { dataDir: ${join(root, 'data')} }
logging: { level: warn }
security: { permissions: [{ name: bench-read, repositories: [ANY], anonymous: [read] }] }
repositories:
  - ${repository}
`,
  );
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', join(root, 'shelf.yaml')], { stdio: 'inherit' });
  await waitForOk(`http://127.0.0.1:${port}/-/healthz`);
  return child;
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

/** wrk (Debian's package) generates the load from C, so the client is not the bottleneck. */
export function measure(url, { connections, seconds, headers = [] }) {
  const out = execFileSync(
    'wrk',
    ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url],
    { encoding: 'utf8' },
  );
  const number = (re) => Number(re.exec(out)?.[1] ?? NaN);
  const m = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m?.[2]] ?? NaN;
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  return {
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    bytesPerSecond: Number(m?.[1]) * unit,
    p99ms: p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : NaN,
    errors: number(/Non-2xx or 3xx responses: (\d+)/) || 0,
  };
}

/** Table rows for one case: the peer, Shelf, and Shelf's ratio to the peer. */
export function compareRows(label, peerName, peer, shelf) {
  const row = (server, r) => ({
    case: label,
    server,
    'req/s': Math.round(r.rps),
    'MB/s': Math.round((r.bytesPerSecond / 1e6) * 10) / 10,
    'p99 ms': Math.round(r.p99ms * 10) / 10,
    errors: r.errors,
  });
  return [
    row(peerName, peer),
    row('shelf', shelf),
    {
      case: label,
      server: `shelf/${peerName}`,
      'req/s': Math.round((shelf.rps / peer.rps) * 100) / 100,
      'MB/s': Math.round((shelf.bytesPerSecond / peer.bytesPerSecond) * 100) / 100,
      'p99 ms': '',
      errors: '',
    },
  ];
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

/**
 * Times a real client's install (`timeInstall(url)` → ms) `runs` times against the peer and through Shelf,
 * and prints the medians and their ratio.
 */
export function compareInstalls(title, peerName, peerUrl, shelfUrl, runs, timeInstall) {
  const direct = Array.from({ length: runs }, () => timeInstall(peerUrl));
  const through = Array.from({ length: runs }, () => timeInstall(shelfUrl));
  console.log(`\n${title}, median of ${runs}:`);
  console.table([
    { server: peerName, 'median ms': Math.round(median(direct)) },
    { server: 'shelf (warm)', 'median ms': Math.round(median(through)) },
    { server: `shelf/${peerName}`, 'median ms': Math.round((median(through) / median(direct)) * 100) / 100 },
  ]);
}
