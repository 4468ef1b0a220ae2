import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { PostgresIndex } from '../../../src/storage/postgres-index.js';
import { JobLease } from '../../../src/lifecycle/lease.js';
import { FaultyUpstream } from '../../helpers/faulty-upstream.js';
import { addClusterAdmin, serveSlowly, startHaCluster } from '../../helpers/ha-cluster.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { ociImages, pullCheck, pushImages } from '../../helpers/docker-harness.js';
import { postgresFor } from '../../helpers/postgres.js';

// Three nodes, each `shelf serve` with two workers, sharing one data directory and one PostgreSQL index,
// behind nginx: what docs/operations.md calls a high-availability deployment.
const postgres = await postgresFor(t);
if (postgres) {
  const databaseUrl = await postgres.createDatabase();
  const admin = await addClusterAdmin(databaseUrl);

  const BIG = randomBytes(8 * 1024 * 1024);
  const upstream = new FaultyUpstream();
  serveSlowly(upstream, '/big.bin', BIG, 60);
  // Half the body, then nothing until the test lets it finish.
  let releasePaused!: () => void;
  const pausedReleased = new Promise<void>((resolve) => (releasePaused = resolve));
  let halfSent = false;
  upstream.on('/paused.bin', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
    res.write(BIG.subarray(0, BIG.length / 2), () => (halfSent = true));
    void pausedReleased.then(() => res.end(BIG.subarray(BIG.length / 2)));
  });
  upstream.on('/spent.bin', (_req, res) => {
    res.writeHead(429, { 'retry-after': '120', 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' }).end();
  });
  const upstreamUrl = await upstream.start();
  t.teardown(() => upstream.stop());

  const cluster = await startHaCluster(
    t,
    {
      repositories: [
        { key: 'cache', format: 'generic', type: 'remote', url: upstreamUrl },
        { key: 'limited', format: 'generic', type: 'remote', url: upstreamUrl },
        { key: 'files', format: 'generic', type: 'local' },
        { key: 'npm-local', format: 'npm', type: 'local' },
        { key: 'docker-local', format: 'docker', type: 'local' },
      ],
      docker: { defaultRepository: 'docker-local' },
      security: { permissions: [{ name: 'read-all', repositories: ['ANY'], anonymous: ['read'] }] },
    },
    { nodes: 3, databaseUrl },
  );
  const [a, b, c] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  t.test('every node reports itself, and is ready with the shared index and storage', async (t) => {
    await sleep(500);
    const nodes = (await (await fetch(`${cluster.url}/api/system/nodes`, { headers: { authorization: admin } })).json()) as {
      id: string; alive: boolean; version: string; startedAt: string; heartbeatAt: string;
    }[];
    t.same(nodes.map((n) => n.id), ['node-1', 'node-2', 'node-3']);
    t.ok(nodes.every((n) => n.alive && n.version && Date.parse(n.startedAt) <= Date.parse(n.heartbeatAt)));
    t.equal((await fetch(`${a.url}/api/system/nodes`)).status, 401, 'administrators only');
    for (const node of cluster.nodes) {
      const ready = await fetch(`${node.url}/-/readyz`);
      t.equal(ready.status, 200);
      t.match(await ready.json(), { status: 'ready', checks: { index: { type: 'postgres', ok: true }, storage: { ok: true } } });
    }
  });

  t.test('fifty concurrent cold requests spread over all nodes make exactly one upstream request', async (t) => {
    const downloads = await Promise.all(Array.from({ length: 50 }, () => download(`${cluster.url}/cache/big.bin`)));
    t.same(new Set(downloads.map((d) => d.status)), new Set([200]));
    t.ok(downloads.every((d) => d.sha256 === sha256(BIG)), 'every body is whole and right');
    t.equal(upstream.count('/big.bin'), 1, 'one upstream request');
    for (const node of cluster.nodes) {
      const metrics = await (await fetch(`${node.url}/-/metrics`)).text();
      t.match(metrics, /shelf_http_requests_total\{[^}]*repo="cache"[^}]*\} [1-9]/, `${new URL(node.url).port} answered some of them`);
    }
  });

  t.test("a node follows another node's fetch as it arrives: its clients stream the shared temp file", async (t) => {
    const first = download(`${a.url}/cache/paused.bin`);
    while (!halfSent) await sleep(20);
    // Node B's client gets the half that has arrived while the upstream still holds back the rest.
    const received = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      const timer = setTimeout(() => resolve(bytes), 10_000);
      httpGet(`${b.url}/cache/paused.bin`, (res) => {
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes >= BIG.length / 4) {
            clearTimeout(timer);
            res.destroy();
            resolve(bytes);
          }
        });
      }).on('error', reject);
    });
    t.ok(received >= BIG.length / 4, `node B streamed ${received} bytes before the upstream sent the rest`);
    const second = download(`${c.url}/cache/paused.bin`);
    await sleep(300);
    releasePaused();
    t.same(await first, { status: 200, sha256: sha256(BIG) });
    t.same(await second, { status: 200, sha256: sha256(BIG) }, 'a follower on another node gets the whole body');
    t.equal(upstream.count('/paused.bin'), 1, 'one upstream request');
  });

  t.test('a file deployed on one node is served by the others at once', async (t) => {
    const body = randomBytes(100_000);
    t.equal((await fetch(`${a.url}/files/one/two.bin`, { method: 'PUT', body, headers: { authorization: admin } })).status, 201);
    for (const node of [b, c]) {
      const got = await fetch(`${node.url}/files/one/two.bin`);
      t.equal(got.status, 200);
      t.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(body));
    }
  });

  t.test('a package published through node A installs through node B', async (t) => {
    await publishPackage(t, `${a.url}/npm-local/`, 'ha-demo', '1.0.0');
    const project = new ClientProject(`${b.url}/npm-local/`);
    t.teardown(() => project.remove());
    const installed = await project.npm('install', 'ha-demo@1.0.0');
    t.equal(installed.code, 0, installed.stderr);
    t.equal(project.file('node_modules/ha-demo/index.js'), "module.exports = '1.0.0';\n");
  });

  t.test('skopeo pushes through the load balancer (each upload spread over the nodes) and pulls from every node', async (t) => {
    const images = ociImages();
    await pushImages(cluster.url.replace('http://', ''), images, 'shelf:shelf');
    for (const node of cluster.nodes) {
      const pulled = await pullCheck(node.url.replace('http://', ''), images);
      t.equal(pulled.failed, 0, pulled.output);
      t.ok(pulled.passed >= 6, `${pulled.passed} images pulled whole from ${node.url}`);
    }
  });

  t.test('a token revoked on node A is refused on node B within a second', async (t) => {
    const created = await fetch(`${a.url}/api/security/token`, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'ci' }),
    });
    t.equal(created.status, 201);
    const { token, id } = (await created.json()) as { token: string; id: string };
    const put = (n: number) =>
      fetch(`${b.url}/files/revoked/${n}.txt`, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${token}` } });
    t.equal((await put(0)).status, 201, 'node B accepts the token');
    t.equal((await fetch(`${a.url}/api/security/token/${id}`, { method: 'DELETE', headers: { authorization: admin } })).status, 204);
    const revokedAt = Date.now();
    let status = 0;
    for (let n = 1; Date.now() - revokedAt < 3000; n++) {
      status = (await put(n)).status;
      if (status === 401) break;
    }
    t.equal(status, 401, 'node B refuses it');
    t.ok(Date.now() - revokedAt < 1000, `within a second (${Date.now() - revokedAt} ms)`);
  });

  t.test('a scheduled job runs on one node at a time: a lease held elsewhere makes the others wait', async (t) => {
    const elsewhere = await PostgresIndex.open({ url: databaseUrl });
    t.teardown(() => elsewhere.close());
    const lease = await JobLease.take(elsewhere, 'garbage collection');
    for (const node of [a, b]) {
      const refused = await fetch(`${node.url}/api/system/gc?dryRun=true`, { method: 'POST', headers: { authorization: admin } });
      t.equal(refused.status, 409, 'another holder runs it');
      t.match(await refused.text(), /already running/);
    }
    await lease.release();
    t.equal((await fetch(`${b.url}/api/system/gc?dryRun=true`, { method: 'POST', headers: { authorization: admin } })).status, 200, 'free again');
  });

  t.test("an upstream's spent rate limit, heard by one node, holds on every node", async (t) => {
    const refused = await fetch(`${a.url}/limited/spent.bin`);
    t.equal(refused.status, 429);
    await sleep(1200);
    for (const node of [b, c]) {
      const answer = await fetch(`${node.url}/limited/other.bin`);
      t.equal(answer.status, 429, 'refused without asking');
      t.ok(Number(answer.headers.get('retry-after')) > 100, 'until the time the upstream gave');
    }
    t.equal(upstream.count('/other.bin'), 0, 'the upstream was not asked');
    const status = (await (await fetch(`${c.url}/api/repositories/limited`, { headers: { authorization: admin } })).json()) as { upstream: unknown };
    t.match(status.upstream, { state: 'rate-limited', rateLimit: 100, rateLimitRemaining: 0 });
  });

  t.test('a node killed (SIGKILL) during pulls and pushes: clients retried elsewhere get whole content, index and blobs agree', async (t) => {
    const pushed = new Map<string, string>();
    const failures: string[] = [];
    let running = true;
    const client = async (id: number) => {
      for (let n = 0; running; n++) {
        const body = randomBytes(200_000 + id * 1000);
        const path = `churn/${id}/${n}.bin`;
        try {
          const put = await fetch(`${cluster.url}/files/${path}`, { method: 'PUT', body, headers: { authorization: admin } });
          if (put.status === 201) pushed.set(path, sha256(body));
          else failures.push(`PUT ${put.status}`);
          const got = await download(`${cluster.url}/cache/big.bin`);
          if (got.status === 200 && got.sha256 !== sha256(BIG)) throw new Error('a successful pull had the wrong content');
          if (got.status !== 200) failures.push(`GET ${got.status}`);
        } catch (err) {
          if ((err as Error).message.includes('wrong content')) throw err;
          failures.push((err as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, id) => client(id));
    await sleep(1500);
    for (const pid of [b.child.pid!, ...b.workerPids()]) process.kill(pid, 'SIGKILL');
    await sleep(2500);
    running = false;
    await Promise.all(clients);
    t.ok(pushed.size > 10, `${pushed.size} pushes succeeded (${failures.length} requests failed while the node died)`);
    for (const [path, digest] of pushed) {
      const got = await download(`${cluster.url}/files/${path}`);
      if (got.status !== 200 || got.sha256 !== digest) t.fail(`${path}: ${got.status}`);
    }
    t.pass('every push that succeeded is served whole by the nodes left');
    const verify = await promisify(execFile)(process.execPath, ['dist/cli/main.js', 'storage', 'verify', '--config', cluster.configFile(1)]).catch(
      (err: { stdout: string; code: number }) => err,
    );
    t.match(verify.stdout, /blobs checked, 0 corrupt, 0 missing/, 'the index and the blob store agree');
  });

  t.test('PostgreSQL restarted during traffic: requests fail clearly while it is down, succeed after, nothing lost', async (t) => {
    const body = randomBytes(50_000);
    t.equal((await fetch(`${cluster.url}/files/before-restart.bin`, { method: 'PUT', body, headers: { authorization: admin } })).status, 201);
    postgres.stop();
    const down = await fetch(`${cluster.url}/files/before-restart.bin`);
    t.equal(down.status, 503, 'a clear 503 while the database is down');
    t.match(await down.text(), /metadata database is unavailable/);
    const ready = await fetch(`${a.url}/-/readyz`);
    t.equal(ready.status, 503, 'not ready');
    t.match(await ready.json(), { checks: { index: { ok: false } } });
    const write = await fetch(`${cluster.url}/files/during-outage.bin`, { method: 'PUT', body: 'x', headers: { authorization: admin } });
    t.equal(write.status, 503, 'no writes either');
    postgres.start();
    let status = 0;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && status !== 200; await sleep(200)) {
      status = (await fetch(`${cluster.url}/files/before-restart.bin`)).status;
    }
    t.equal(status, 200, 'served again once the database is back');
    const got = await fetch(`${cluster.url}/files/before-restart.bin`);
    t.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(body), 'nothing lost');
    t.equal((await fetch(`${cluster.url}/files/after-restart.bin`, { method: 'PUT', body: 'y', headers: { authorization: admin } })).status, 201);
    t.equal((await fetch(`${cluster.url}/files/during-outage.bin`)).status, 404, 'the refused write left nothing');
  });
}

/** Downloads into a hash; connection errors count as status 0. */
function download(url: string): Promise<{ status: number; sha256: string }> {
  return new Promise((resolve) => {
    httpGet(url, (res) => {
      const hash = createHash('sha256');
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, sha256: hash.digest('hex') }));
      res.on('error', () => resolve({ status: 0, sha256: '' }));
    }).on('error', () => resolve({ status: 0, sha256: '' }));
  });
}
