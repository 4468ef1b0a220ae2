import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { startShelf } from '../../helpers/shelf.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const shelf = await startShelf({
  server: { maxUploadBytes: 1024 * 1024 },
  repositories: [
    { key: 'files', format: 'generic', type: 'local' },
    { key: 'releases', format: 'generic', type: 'local', allowRedeploy: false, allowDelete: false },
    { key: 'all', format: 'generic', type: 'virtual', members: ['releases', 'files'], defaultDeployRepo: 'files' },
  ],
});
t.teardown(() => shelf.stop());

const put = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  fetch(`${shelf.url}${path}`, { method: 'PUT', body, headers });

/** Stored blobs on disk, to prove a refused write left nothing behind. */
const blobCount = () => {
  const dir = join(shelf.dataDir, 'blobs', 'sha256');
  return readdirSync(dir).reduce((n, sub) => n + readdirSync(join(dir, sub)).length, 0);
};
const tempCount = () => readdirSync(join(shelf.dataDir, 'blobs', 'tmp')).length;

t.test('deploy, download, head, delete', async (t) => {
  const body = randomBytes(100_000);
  const res = await put('/files/tools/v1/tool.bin', body);
  t.equal(res.status, 201);
  const info = (await res.json()) as { checksums: { sha256: string } };
  t.equal(info.checksums.sha256, sha256(body));

  const get = await fetch(`${shelf.url}/files/tools/v1/tool.bin`);
  t.equal(get.status, 200);
  t.equal(get.headers.get('x-checksum-sha256'), sha256(body));
  t.equal(get.headers.get('etag'), `"sha256:${sha256(body)}"`);
  t.equal(get.headers.get('content-length'), String(body.length));
  t.ok(get.headers.get('last-modified'));
  t.ok(Buffer.from(await get.arrayBuffer()).equals(body), 'the same bytes come back');

  const head = await fetch(`${shelf.url}/files/tools/v1/tool.bin`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), String(body.length));

  t.equal((await fetch(`${shelf.url}/files/tools/v1/tool.bin`, { method: 'DELETE' })).status, 204);
  t.equal((await fetch(`${shelf.url}/files/tools/v1/tool.bin`)).status, 404);
});

t.test('content is stored once however many paths refer to it', async (t) => {
  const body = randomBytes(5000);
  const before = blobCount();
  await put('/files/a/one.bin', body);
  await put('/files/b/two.bin', body);
  await put('/releases/three.bin', body);
  t.equal(blobCount(), before + 1);
});

t.test('range and conditional requests', async (t) => {
  const body = Buffer.from('0123456789abcdefghij');
  await put('/files/range.txt', body, { 'content-type': 'text/plain' });
  const partial = await fetch(`${shelf.url}/files/range.txt`, { headers: { range: 'bytes=5-9' } });
  t.equal(partial.status, 206);
  t.equal(partial.headers.get('content-range'), 'bytes 5-9/20');
  t.equal(await partial.text(), '56789');
  t.equal(partial.headers.get('content-type'), 'text/plain', 'the deployed content type is kept');

  const suffix = await fetch(`${shelf.url}/files/range.txt`, { headers: { range: 'bytes=-3' } });
  t.equal(await suffix.text(), 'hij');

  const outside = await fetch(`${shelf.url}/files/range.txt`, { headers: { range: 'bytes=50-60' } });
  t.equal(outside.status, 416);
  t.equal(outside.headers.get('content-range'), 'bytes */20');

  const etag = (await fetch(`${shelf.url}/files/range.txt`, { method: 'HEAD' })).headers.get('etag')!;
  const notModified = await fetch(`${shelf.url}/files/range.txt`, { headers: { 'if-none-match': etag } });
  t.equal(notModified.status, 304);
  const modified = await fetch(`${shelf.url}/files/range.txt`, { headers: { 'if-none-match': '"other"' } });
  t.equal(modified.status, 200);

  const staleIfRange = await fetch(`${shelf.url}/files/range.txt`, {
    headers: { range: 'bytes=0-1', 'if-range': '"other"' },
  });
  t.equal(staleIfRange.status, 200, 'If-Range with another ETag gets the whole body');
});

t.test('release repository: no redeploy with other content, no delete', async (t) => {
  t.equal((await put('/releases/app/1.0/app.tgz', 'first')).status, 201);
  t.equal((await put('/releases/app/1.0/app.tgz', 'first')).status, 201, 'the same content again is accepted');
  const again = await put('/releases/app/1.0/app.tgz', 'second');
  t.equal(again.status, 409);
  t.match(await again.json(), { errors: [{ code: 'CONFLICT' }] });
  t.equal(await (await fetch(`${shelf.url}/releases/app/1.0/app.tgz`)).text(), 'first');
  t.equal((await fetch(`${shelf.url}/releases/app/1.0/app.tgz`, { method: 'DELETE' })).status, 403);
});

t.test('virtual repository: reads in member order, writes to the default deploy repo', async (t) => {
  await put('/files/both.txt', 'from files');
  await put('/releases/both.txt', 'from releases');
  t.equal(await (await fetch(`${shelf.url}/all/both.txt`)).text(), 'from releases', 'first member wins');
  t.equal((await put('/all/deployed.txt', 'via virtual')).status, 201);
  t.equal(await (await fetch(`${shelf.url}/files/deployed.txt`)).text(), 'via virtual');
});

t.test('declared checksums are verified and a mismatch stores nothing', async (t) => {
  const body = randomBytes(2048);
  const good = await put('/files/checked.bin', body, { 'x-checksum-sha256': sha256(body) });
  t.equal(good.status, 201);

  const before = blobCount();
  const bad = await put('/files/bad.bin', randomBytes(2048), { 'x-checksum-sha256': sha256(body) });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { errors: [{ code: 'DIGEST_MISMATCH' }] });
  t.equal((await fetch(`${shelf.url}/files/bad.bin`)).status, 404);
  t.equal(blobCount(), before, 'no blob was kept');
  t.equal(tempCount(), 0, 'no temp file was left');

  const badSha1 = await put('/files/bad1.bin', body, { 'x-checksum-sha1': '0'.repeat(40) });
  t.equal(badSha1.status, 400);
  const malformed = await put('/files/bad2.bin', body, { 'x-checksum-sha256': 'xyz' });
  t.equal(malformed.status, 400);
});

t.test('bodies over the limit are refused, declared or not', async (t) => {
  const declared = await put('/files/big.bin', randomBytes(1024 * 1024 + 1));
  t.equal(declared.status, 413);

  // A chunked body has no Content-Length: the limit is enforced while it streams.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${shelf.url}/files/big-chunked.bin`, { method: 'PUT' }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    for (let i = 0; i < 20; i++) req.write(randomBytes(64 * 1024));
    req.end();
  });
  t.equal(status, 413);
  t.equal((await fetch(`${shelf.url}/files/big-chunked.bin`)).status, 404);
  t.equal(tempCount(), 0);
});

t.test('a client that stops mid-upload leaves nothing behind', async (t) => {
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${shelf.url}/files/truncated.bin`, {
      method: 'PUT',
      headers: { 'content-length': '100000' },
    });
    req.on('error', () => resolve());
    req.write(randomBytes(30_000), () => setTimeout(() => req.destroy(), 100));
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal((await fetch(`${shelf.url}/files/truncated.bin`)).status, 404);
  t.equal(tempCount(), 0);
});

t.test('hostile and malformed paths are refused', async (t) => {
  await put('/files/secret.txt', 'x');
  // fetch() normalizes dot segments itself, so send raw request lines.
  const raw = (path: string, method = 'GET') =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: new URL(shelf.url).port, path, method }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
  for (const path of [
    '/files/../files/secret.txt',
    '/files/a/%2e%2e/secret.txt',
    '/files/a%2F..%2Fsecret.txt',
    '/files/a%2Fb.txt',
    '/files//secret.txt',
    '/files/./secret.txt',
    '/files/a%00b',
    '/files/a%5c..%5csecret.txt',
    '/files/%zz',
  ]) {
    t.equal(await raw(path), 400, `GET ${path}`);
    t.equal(await raw(path, 'PUT'), 400, `PUT ${path}`);
  }
});

t.test('unknown repositories, endpoints and methods', async (t) => {
  const unknown = await fetch(`${shelf.url}/nope/file`);
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { errors: [{ status: 404, code: 'NOT_FOUND' }] });
  const post = await fetch(`${shelf.url}/files/x`, { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.match(post.headers.get('allow'), /PUT/);
  t.equal((await fetch(`${shelf.url}/api/nothing`)).status, 404);
});

t.test('REST: repositories, file info, properties, checksum search, download stats', async (t) => {
  const repos = (await (await fetch(`${shelf.url}/api/repositories`)).json()) as { key: string; type: string }[];
  t.same(
    repos.map((r) => [r.key, r.type]),
    [
      ['files', 'LOCAL'],
      ['releases', 'LOCAL'],
      ['all', 'VIRTUAL'],
    ],
  );

  const body = randomBytes(777);
  await put('/files/info/pkg.bin', body);
  for (let i = 0; i < 3; i++) await (await fetch(`${shelf.url}/files/info/pkg.bin`)).arrayBuffer();
  await shelf.app['downloads'].flush();

  const setProps = await fetch(`${shelf.url}/api/storage/files/info/pkg.bin?properties=build=42;os=linux,darwin`, {
    method: 'PUT',
  });
  t.equal(setProps.status, 204);
  const info = (await (await fetch(`${shelf.url}/api/storage/files/info/pkg.bin`)).json()) as Record<string, any>;
  t.equal(info.size, '777');
  t.equal(info.checksums.sha256, sha256(body));
  t.same(info.properties, { build: ['42'], os: ['darwin', 'linux'] });
  t.equal(info.stats.downloadCount, 3);
  t.ok(info.stats.lastDownloaded);

  await fetch(`${shelf.url}/api/storage/files/info/pkg.bin?properties=os`, { method: 'DELETE' });
  const after = (await (await fetch(`${shelf.url}/api/storage/files/info/pkg.bin`)).json()) as Record<string, any>;
  t.same(after.properties, { build: ['42'] });

  const folder = (await (await fetch(`${shelf.url}/api/storage/files/info/`)).json()) as Record<string, any>;
  t.match(folder.children, [{ uri: '/pkg.bin', folder: false, size: Number }]);
  t.equal(folder.children.length, 1);

  const found = (await (await fetch(`${shelf.url}/api/search/checksum?sha256=${sha256(body)}`)).json()) as {
    results: { repo: string; path: string }[];
  };
  t.same(found.results.map((r) => `${r.repo}${r.path}`), ['files/info/pkg.bin']);
  t.equal((await fetch(`${shelf.url}/api/search/checksum?sha256=nothex`)).status, 400);
  t.equal((await fetch(`${shelf.url}/api/storage/files/info/pkg.bin?properties=bad%20key=1`, { method: 'PUT' })).status, 400);
});

t.test('health, readiness and metrics', async (t) => {
  t.equal((await fetch(`${shelf.url}/-/healthz`)).status, 200);
  t.equal((await fetch(`${shelf.url}/-/readyz`)).status, 200);
  await fetch(`${shelf.url}/files/range.txt`);
  const metrics = await (await fetch(`${shelf.url}/-/metrics`)).text();
  t.match(metrics, /shelf_http_requests_total\{repo="files",format="generic",method="GET",status="200"\} \d+/);
  t.match(metrics, /shelf_storage_bytes \d+/);
});
