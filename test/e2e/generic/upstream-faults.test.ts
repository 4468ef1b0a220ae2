import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { FaultyUpstream } from '../../helpers/faulty-upstream.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = new FaultyUpstream();
const upstreamUrl = await upstream.start();
t.teardown(() => upstream.stop());

const shelf = await startShelf({
  repositories: [
    {
      key: 'remote',
      format: 'generic',
      type: 'remote',
      url: upstreamUrl,
      metadataTtlSeconds: 0,
      assumedOfflineSeconds: 0,
      readTimeoutMs: 1000,
      fetchDeadlineSeconds: 3,
      abandonedFetchSeconds: 1,
    },
    { key: 'narrow', format: 'generic', type: 'remote', url: upstreamUrl, assumedOfflineSeconds: 0, connectTimeoutMs: 500, readTimeoutMs: 500, abandonedFetchSeconds: 1 },
  ],
});
t.teardown(() => shelf.stop());

const tempFiles = () => readdirSync(join(shelf.dataDir, 'blobs', 'tmp'));

/** Downloads with node:http so a connection cut mid-body is seen as such. */
const download = (path: string) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; complete: boolean }>((resolve) => {
    httpGet(`${shelf.url}${path}`, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    }).on('error', () => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), complete: false }));
  });

t.test('an upstream that dies mid-body: the client sees an error, nothing is cached, the next request retries', async (t) => {
  const body = randomBytes(2 * 1024 * 1024);
  upstream.on('/dies.bin', (_req, res, attempt) => {
    res.writeHead(200, { 'content-length': body.length });
    if (attempt === 1) {
      res.write(body.subarray(0, 1024 * 1024), () => res.destroy());
    } else {
      res.end(body);
    }
  });
  const first = await download('/remote/dies.bin');
  t.equal(first.status, 200, 'headers went out before the upstream died');
  t.notOk(first.complete, 'the client sees an incomplete body');
  t.ok(first.body.length < body.length);
  t.same(tempFiles(), [], 'the partial download was removed');
  t.equal((await fetch(`${shelf.url}/api/storage/remote/dies.bin`)).status, 404, 'nothing was indexed');

  const second = await download('/remote/dies.bin');
  t.ok(second.complete);
  t.ok(second.body.equals(body), 'the retry fetched and served the whole file');
  t.equal(upstream.count('/dies.bin'), 2);
});

t.test('an upstream whose body does not match its declared checksum is not cached', async (t) => {
  const body = randomBytes(100_000);
  upstream.on('/lies.bin', (_req, res) => {
    res.writeHead(200, {
      'content-length': body.length,
      'x-checksum-sha256': createHash('sha256').update('something else').digest('hex'),
    });
    res.end(body);
  });
  const result = await download('/remote/lies.bin');
  t.notOk(result.complete && result.body.equals(body), 'the client never gets the full body as if it were fine');
  t.equal(result.status, 502, 'a small file: a 502 before any byte is sent');
  t.match(result.body.toString(), /sha256 of the content is/, 'saying what happened');
  t.equal((await fetch(`${shelf.url}/api/storage/remote/lies.bin`)).status, 404);
  t.same(tempFiles(), []);
  const metrics = await (await fetch(`${shelf.url}/-/metrics`)).text();
  t.match(metrics, /shelf_upstream_fetch_failures_total\{repo="remote",code="DIGEST_MISMATCH"\} 1/, 'and in the metrics');
});

t.test('bytes stream to the client while the upstream is still sending', async (t) => {
  const half = randomBytes(1024 * 1024);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  upstream.on('/slow.bin', (_req, res) => {
    res.writeHead(200, { 'content-length': half.length * 2 });
    res.write(half);
    void released.then(() => res.end(half));
  });
  const received = await new Promise<number>((resolve, reject) => {
    httpGet(`${shelf.url}/remote/slow.bin`, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes >= 512 * 1024) release();
      });
      res.on('end', () => resolve(bytes));
    }).on('error', reject);
  });
  t.equal(received, half.length * 2, 'the client got half before the upstream sent the rest');
});

t.test('an upstream that stalls mid-body is cut off after readTimeoutMs', async (t) => {
  upstream.on('/stalls.bin', (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(500));
  });
  const small = await download('/remote/stalls.bin');
  t.equal(small.status, 502, 'a small file is answered once complete: here, with the reason it is not');
  t.match(small.body.toString(), /broke off/);
  upstream.on('/stalls-large.bin', (_req, res) => {
    res.writeHead(200, { 'content-length': 4 * 1024 * 1024 });
    res.write(Buffer.alloc(2 * 1024 * 1024));
  });
  const large = await download('/remote/stalls-large.bin');
  t.equal(large.status, 200, 'a large one streams as it arrives');
  t.notOk(large.complete, 'and breaks off');
  t.same(tempFiles(), []);
});

t.test('a trickling upstream is cut off at the fetch deadline, though each chunk comes in time', async (t) => {
  const timers: NodeJS.Timeout[] = [];
  upstream.on('/trickle.bin', (_req, res) => {
    res.writeHead(200, { 'content-length': 4 * 1024 * 1024 });
    timers.push(setInterval(() => res.write(Buffer.alloc(1)), 200));
  });
  t.teardown(() => timers.forEach(clearInterval));
  const result = await download('/remote/trickle.bin');
  t.notOk(result.complete, 'the client sees the transfer fail');
  t.ok(result.body.length < 100, 'after a few seconds of trickle');
  t.same(tempFiles(), [], 'nothing partial is kept');
  t.equal((await fetch(`${shelf.url}/api/storage/remote/trickle.bin`)).status, 404);
});

t.test('a fetch every client has left is stopped, and nothing of it is kept', async (t) => {
  let upstreamClosedEarly = false;
  const timers: NodeJS.Timeout[] = [];
  upstream.on('/left.bin', (_req, res) => {
    res.writeHead(200, { 'content-length': 8 * 1024 * 1024 });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(Buffer.alloc(64 * 1024));
      sent += 64 * 1024;
      if (sent >= 8 * 1024 * 1024) clearInterval(timer);
    }, 100);
    timers.push(timer);
    res.on('close', () => {
      clearInterval(timer);
      if (sent < 8 * 1024 * 1024) upstreamClosedEarly = true;
    });
  });
  t.teardown(() => timers.forEach(clearInterval));
  await new Promise<void>((resolve) => {
    // `narrow` has no short fetch deadline: only the abandonment can stop this fetch early.
    const req = httpGet(`${shelf.url}/narrow/left.bin`, (res) => {
      res.once('data', () => {
        req.destroy(); // the only client goes away
        resolve();
      });
    });
    req.on('error', () => resolve());
  });
  for (let i = 0; i < 100 && !upstreamClosedEarly; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(upstreamClosedEarly, 'Shelf stopped fetching once nobody waited (abandonedFetchSeconds)');
  for (let i = 0; i < 20 && tempFiles().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(tempFiles(), [], 'the partial file is removed');
  t.equal((await fetch(`${shelf.url}/api/storage/narrow/left.bin`)).status, 404, 'nothing is cached');
});

t.test('requests waiting for a connection to a saturated upstream give up within the read timeout', async (t) => {
  // 64 connections per upstream: 70 requests that the upstream never answers fill the pool and its queue.
  for (let i = 0; i < 70; i++) upstream.on(`/never-${i}`, () => undefined);
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 70 }, (_, i) => download(`/narrow/never-${i}`)));
  t.same([...new Set(answers.map((a) => a.status))], [504], 'every one is answered 504, the queued ones too');
  t.ok(Date.now() - started < 10_000, 'none waits for ever');
});

t.test('5xx from upstream: 502 without cache, stale with cache', async (t) => {
  upstream.on('/flaky.txt', (_req, res, attempt) => {
    if (attempt === 1) res.writeHead(200, { 'content-type': 'text/plain' }).end('good');
    else res.writeHead(503).end('down');
  });
  t.equal((await download('/remote/flaky.txt')).body.toString(), 'good');
  const stale = await download('/remote/flaky.txt');
  t.equal(stale.status, 200);
  t.equal(stale.headers['x-shelf-cache'], 'STALE');
  t.equal(stale.body.toString(), 'good');

  upstream.on('/broken.txt', (_req, res) => res.writeHead(500).end());
  const broken = await download('/remote/broken.txt');
  t.equal(broken.status, 502);
  t.match(JSON.parse(broken.body.toString()), { errors: [{ code: 'UPSTREAM_ERROR' }] });
});

t.test('rate limits: 429 with Retry-After spends the budget; cache is served, the rest refused without asking', async (t) => {
  upstream.on('/cached.txt', (_req, res) => res.writeHead(200).end('cached'));
  t.equal((await download('/remote/cached.txt')).body.toString(), 'cached');

  upstream.on('/limited.txt', (_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
  const limited = await download('/remote/limited.txt');
  t.equal(limited.status, 429);
  t.equal(limited.headers['retry-after'], '120');

  const stale = await download('/remote/cached.txt');
  t.equal(stale.headers['x-shelf-cache'], 'STALE', 'cached content is served while the budget is spent');
  t.equal(upstream.count('/cached.txt'), 1, 'without asking upstream');

  upstream.on('/other.txt', (_req, res) => res.writeHead(200).end('other'));
  const refused = await download('/remote/other.txt');
  t.equal(refused.status, 429);
  t.match(JSON.parse(refused.body.toString()), { errors: [{ code: 'TOOMANYREQUESTS' }] });
  t.ok(Number(refused.headers['retry-after']) > 100);
  t.equal(upstream.count('/other.txt'), 0, 'the upstream was not asked');
});
