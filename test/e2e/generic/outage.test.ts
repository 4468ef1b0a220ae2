import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { NginxUpstream } from '../../helpers/nginx-upstream.js';
import { startShelfProcess } from '../../helpers/shelf.js';

// After an upstream failure, `shelf serve` with two workers does not refuse uncached requests blindly for
// assumedOfflineSeconds: the outage is shared by the workers (kept in the index), one request probes the
// upstream, and as soon as it answers again every worker serves.

const upstream = new NginxUpstream();
await upstream.start();
t.teardown(() => upstream.dispose());
mkdirSync(join(upstream.root, 'files'), { recursive: true });
for (let i = 0; i < 12; i++) writeFileSync(join(upstream.root, 'files', `f${i}.txt`), `file ${i}`);

const shelf = await startShelfProcess(
  { repositories: [{ key: 'cache', format: 'generic', type: 'remote', url: upstream.url, assumedOfflineSeconds: 300 }] },
  2,
);
t.teardown(() => shelf.stop());

/** A GET on a connection of its own, so that successive requests are spread over the workers. */
const get = (path: string) =>
  new Promise<number>((resolve, reject) => {
    httpGet(`${shelf.url}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });

t.test('an upstream that is back is used at once by every worker', async (t) => {
  for (let i = 0; i < 300 && (shelf.output().match(/worker ready/g) ?? []).length < 2; i++) await sleep(100);
  t.equal((await fetch(`${shelf.url}/cache/files/f0.txt`)).status, 200);
  upstream.stop();
  const failed = await fetch(`${shelf.url}/cache/files/f1.txt`);
  t.equal(failed.status, 404, 'the upstream is down: not available offline');
  t.match(await failed.text(), /not available offline: it is not cached in cache, and its upstream cannot be reached \(upstream .* unreachable/);
  const cached = await fetch(`${shelf.url}/cache/files/f0.txt`);
  t.equal(cached.status, 200, 'cached content is served meanwhile');

  await upstream.start();
  const statuses = [];
  for (let i = 2; i < 12; i++) statuses.push(await get(`/cache/files/f${i}.txt`));
  t.same(statuses, Array(10).fill(200), 'every request after the upstream came back is served, whichever worker takes it');
  t.equal(shelf.workerPids().length, 2);
});
