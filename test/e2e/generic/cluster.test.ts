import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readdirSync } from 'node:fs';
import { request as httpRequest, get as httpGet } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { NginxUpstream } from '../../helpers/nginx-upstream.js';
import { startShelfProcess } from '../../helpers/shelf.js';

// `shelf serve` as operators run it: a primary and two workers sharing the port.
const upstream = new NginxUpstream();
await upstream.start();
t.teardown(() => upstream.dispose());

const shelf = await startShelfProcess(
  {
    repositories: [
      { key: 'remote', format: 'generic', type: 'remote', url: upstream.url },
      { key: 'hosted', format: 'generic', type: 'local' },
    ],
  },
  2,
);
t.teardown(() => shelf.stop());

/** Writes `mib` MiB of pseudo-random bytes, returning their sha256. */
async function writeBigFile(path: string, mib: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  let seed = createHash('sha256').update(path).digest();
  for (let i = 0; i < mib * 32; i++) {
    const chunk = Buffer.alloc(32 * 1024);
    for (let o = 0; o < chunk.length; o += 32) {
      seed = createHash('sha256').update(seed).digest();
      seed.copy(chunk, o);
    }
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve) => out.end(resolve));
  return hash.digest('hex');
}

/** Downloads into a hash, so 50 concurrent 50 MiB bodies need no memory; `bytesPerSecond` reads slowly. */
const downloadHash = (url: string, bytesPerSecond?: number) =>
  new Promise<{ status: number; sha256: string; cache: string | undefined }>((resolve, reject) => {
    httpGet(url, (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => {
        hash.update(c);
        if (!bytesPerSecond) return;
        res.pause();
        setTimeout(() => res.resume(), (c.length / bytesPerSecond) * 1000);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode!, sha256: hash.digest('hex'), cache: res.headers['x-shelf-cache'] as string }),
      );
      res.on('error', reject);
    }).on('error', reject);
  });

t.test('50 concurrent cold requests for one 50 MiB file: one upstream request, identical bytes', async (t) => {
  const expected = await writeBigFile(join(upstream.root, 'big.bin'), 50);
  const results = await Promise.all(
    Array.from({ length: 50 }, () => downloadHash(`${shelf.url}/remote/big.bin`)),
  );
  t.same(upstream.requests('/big.bin'), ['GET /big.bin 200'], 'exactly one upstream request across both workers');
  t.ok(results.every((r) => r.status === 200), 'every client got 200');
  t.equal(results.filter((r) => r.sha256 === expected).length, 50, 'every client got the identical, complete bytes');
  t.ok(results.some((r) => r.cache === 'MISS'), 'clients were streamed the miss');
  const warm = await downloadHash(`${shelf.url}/remote/big.bin`);
  t.equal(warm.cache, 'HIT');
  t.equal(warm.sha256, expected);
});

t.test('metrics are summed across workers', async (t) => {
  const text = await (await fetch(`${shelf.url}/-/metrics`)).text();
  const served = /shelf_http_requests_total\{repo="remote",format="generic",method="GET",status="200"\} (\d+)/.exec(text);
  t.equal(Number(served?.[1]), 51, 'all 51 downloads counted, whichever worker served them');
  t.match(text, /shelf_upstream_requests_total\{repo="remote",outcome="200"\} 1/);
});

t.test('kill -9 of the workers mid-upload: nothing partial is served or indexed', async (t) => {
  const uploaded = new Promise<void>((resolve) => {
    const req = httpRequest(`${shelf.url}/hosted/partial.bin`, {
      method: 'PUT',
      headers: { 'content-length': String(64 * 1024 * 1024) },
    });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(Buffer.alloc(8 * 1024 * 1024, 1));
  });
  await sleep(500);
  const tempDir = join(shelf.dataDir, 'data', 'blobs', 'tmp');
  t.ok(readdirSync(tempDir).length > 0, 'the upload is being written to a temp file');
  const workers = shelf.workerPids();
  t.equal(workers.length, 2);
  for (const pid of workers) process.kill(pid, 'SIGKILL');
  await uploaded;

  // The primary starts new workers and removes the dead ones' temp files.
  for (let i = 0; i < 150 && shelf.workerPids().length < 4; i++) await sleep(100);
  t.equal(shelf.workerPids().length, 4, 'two new workers started');
  const status = (await fetch(`${shelf.url}/hosted/partial.bin`)).status;
  t.equal(status, 404, 'the interrupted upload is not served');
  t.equal((await fetch(`${shelf.url}/api/storage/hosted/partial.bin`)).status, 404, 'nor indexed');
  t.same(readdirSync(tempDir), [], 'the dead workers\' temp files are gone');
});

t.test('SIGTERM lets in-flight downloads finish, a slow reader included, then stops', async (t) => {
  // The slow reader gets a file uploaded just now: it is verified as it streams, so its last chunk goes out
  // only at the end, and is still waiting in the socket's buffer when the response has ended.
  const slowFile = join(upstream.root, 'slow.bin');
  const slowExpected = await writeBigFile(slowFile, 12);
  const put = await fetch(`${shelf.url}/hosted/slow.bin`, { method: 'PUT', body: createReadStream(slowFile) as unknown as BodyInit, duplex: 'half' } as RequestInit);
  t.equal(put.status, 201);
  const fast = downloadHash(`${shelf.url}/remote/big.bin`);
  const slow = downloadHash(`${shelf.url}/hosted/slow.bin`, 8 * 1024 * 1024);
  await sleep(200);
  shelf.child.kill('SIGTERM');
  const [fastResult, slowResult] = await Promise.all([fast, slow]);
  t.equal(fastResult.status, 200);
  t.equal(fastResult.sha256, await hashFile(join(upstream.root, 'big.bin')), 'the download completed');
  t.equal(slowResult.status, 200);
  t.equal(slowResult.sha256, slowExpected, 'the slow download completed, its last buffered bytes included');
  const code = await new Promise((resolve) => (shelf.child.exitCode !== null ? resolve(shelf.child.exitCode) : shelf.child.once('exit', resolve)));
  t.equal(code, 0, 'the primary exited cleanly');
});

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (c) => hash.update(c)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });
}
