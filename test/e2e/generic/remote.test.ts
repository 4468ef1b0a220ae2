import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { NginxUpstream } from '../../helpers/nginx-upstream.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = new NginxUpstream();
await upstream.start();
t.teardown(() => upstream.dispose());

const put = (path: string, body: Buffer | string) => {
  mkdirSync(join(upstream.root, path, '..'), { recursive: true });
  writeFileSync(join(upstream.root, path), body);
};

const shelf = await startShelf({
  repositories: [
    {
      key: 'cache',
      format: 'generic',
      type: 'remote',
      url: upstream.url,
      metadataTtlSeconds: 1,
      negativeCacheTtlSeconds: 60,
      assumedOfflineSeconds: 0,
      excludes: ['private/**'],
    },
    { key: 'cache-offline', format: 'generic', type: 'remote', url: upstream.url, offline: true },
    { key: 'hosted', format: 'generic', type: 'local' },
    { key: 'all', format: 'generic', type: 'virtual', members: ['hosted', 'cache'], defaultDeployRepo: 'hosted' },
  ],
});
t.teardown(() => shelf.stop());

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${shelf.url}${path}`, { headers });
  return { status: res.status, cache: res.headers.get('x-shelf-cache'), headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
};

t.test('miss, then hit without asking upstream', async (t) => {
  const body = randomBytes(300_000);
  put('tools/tool-1.0.tar.gz', body);
  const first = await get('/cache/tools/tool-1.0.tar.gz');
  t.equal(first.status, 200);
  t.equal(first.cache, 'MISS');
  t.ok(first.body.equals(body));
  const second = await get('/cache/tools/tool-1.0.tar.gz');
  t.equal(second.cache, 'HIT');
  t.ok(second.body.equals(body));
  t.ok(second.headers.get('x-checksum-sha256'));
  t.same(upstream.requests('/tools/tool-1.0.tar.gz'), ['GET /tools/tool-1.0.tar.gz 200'], 'one upstream request');
});

t.test('expired content is revalidated with a conditional request', async (t) => {
  put('meta/index.json', '{"v":1}');
  t.equal((await get('/cache/meta/index.json')).cache, 'MISS');
  await sleep(1100);
  const revalidated = await get('/cache/meta/index.json');
  t.equal(revalidated.cache, 'REVALIDATED');
  t.equal(revalidated.body.toString(), '{"v":1}');
  t.same(upstream.requests('/meta/index.json'), ['GET /meta/index.json 200', 'GET /meta/index.json 304']);

  await sleep(1100);
  put('meta/index.json', '{"v":2, "changed": true}');
  const changed = await get('/cache/meta/index.json');
  t.equal(changed.cache, 'MISS');
  t.equal(changed.body.toString(), '{"v":2, "changed": true}', 'changed upstream content replaces the cache');
});

t.test('upstream 404s are remembered for negativeCacheTtlSeconds', async (t) => {
  t.equal((await get('/cache/missing/thing.bin')).status, 404);
  t.equal((await get('/cache/missing/thing.bin')).status, 404);
  t.same(upstream.requests('/missing/thing.bin'), ['GET /missing/thing.bin 404'], 'asked upstream once');
});

t.test('excluded paths are never fetched', async (t) => {
  put('private/key.pem', 'secret');
  t.equal((await get('/cache/private/key.pem')).status, 404);
  t.same(upstream.requests('/private/key.pem'), []);
});

t.test('offline repositories serve only what is cached', async (t) => {
  put('offline.txt', 'offline');
  const offline = await get('/cache-offline/offline.txt');
  t.equal(offline.status, 404);
  t.match(offline.body.toString(), /not cached in cache-offline, which is offline/, 'the 404 says why');
  t.same(upstream.requests('/offline.txt'), []);
});

t.test('virtual over local and remote', async (t) => {
  put('shared.txt', 'from upstream');
  t.equal((await get('/all/shared.txt')).body.toString(), 'from upstream');
  await fetch(`${shelf.url}/all/shared.txt`, { method: 'PUT', body: 'hosted copy' });
  t.equal((await get('/all/shared.txt')).body.toString(), 'hosted copy', 'the local member comes first');
  t.equal((await get('/hosted/shared.txt')).body.toString(), 'hosted copy', 'the deploy went to defaultDeployRepo');
});

t.test('a remote repository refuses deploys', async (t) => {
  const res = await fetch(`${shelf.url}/cache/x.txt`, { method: 'PUT', body: 'x' });
  t.equal(res.status, 405);
});

t.test('upstream down: cached content is served stale, the rest fails clearly', async (t) => {
  put('down/cached.bin', 'cached before the outage');
  t.equal((await get('/cache/down/cached.bin')).cache, 'MISS');
  await sleep(1100);
  upstream.stop();
  const stale = await get('/cache/down/cached.bin');
  t.equal(stale.status, 200);
  t.equal(stale.cache, 'STALE');
  t.match(stale.headers.get('warning'), /110/);
  t.equal(stale.body.toString(), 'cached before the outage');
  const uncached = await get('/cache/down/never-cached.bin');
  t.equal(uncached.status, 404);
  t.match(JSON.parse(uncached.body.toString()), { errors: [{ code: 'NOT_AVAILABLE_OFFLINE' }] });

  await upstream.start();
  put('down/never-cached.bin', 'back');
  t.equal((await get('/cache/down/never-cached.bin')).body.toString(), 'back', 'works again once upstream is back');
});

t.test('nothing is left in temp after all that', async (t) => {
  t.same(readdirSync(join(shelf.dataDir, 'blobs', 'tmp')), []);
});
