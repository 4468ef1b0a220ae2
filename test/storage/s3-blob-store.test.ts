import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import t from 'tap';
import { BlobStore } from '../../src/storage/blob-store.js';
import { S3BlobPlace } from '../../src/storage/s3-blob-place.js';
import { s3For } from '../helpers/s3.js';
import { blobStoreContract } from './blob-store-contract.js';

const PART_BYTES = 5 * 1024 * 1024;

t.test('the blob store contract, on S3 (Ceph RADOS gateway)', async (t) => {
  const s3 = await s3For(t);
  if (!s3) return;
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  t.teardown(() => client.destroy());
  blobStoreContract(t, async () => {
    const root = mkdtempSync(join(tmpdir(), 'shelf-s3-blobs-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const bucket = s3.newBucket();
    const prefix = 'shelf/';
    const place = new S3BlobPlace({
      bucket,
      prefix,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials,
      requestTimeoutMs: 10_000,
      partBytes: PART_BYTES,
      tempDir: join(root, 'tmp'),
    });
    const store = new BlobStore(root, place);
    await store.init();
    const key = (sha256: string) => `${prefix}sha256/${sha256.slice(0, 2)}/${sha256}`;
    return {
      store,
      damage: async (sha256, bytes) => void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(sha256), Body: bytes }))),
      remove: async (sha256) => void (await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(sha256) }))),
      partBytes: PART_BYTES,
    };
  });
});

t.test('every wait on the object store has a deadline: no answer, or a body that stops half-way, fails the request', async (t) => {
  const size = 2 * 1024 * 1024;
  const sha256 = createHash('sha256').update(Buffer.alloc(size)).digest('hex');
  // A blob sent slowly but steadily, for longer than the deadline.
  const slow = Buffer.alloc(160 * 1024, 1);
  const slowSha256 = createHash('sha256').update(slow).digest('hex');
  // Answers GETs of the blob with its headers and half its body, then nothing; HEADs not at all.
  const server = createServer((req, res) => {
    const headers = { etag: '"x"', 'last-modified': new Date().toUTCString() };
    if (req.method === 'GET' && req.url?.includes(sha256)) {
      res.writeHead(200, { ...headers, 'content-length': size });
      res.write(Buffer.alloc(size / 2));
    } else if (req.method === 'GET' && req.url?.includes(slowSha256)) {
      res.writeHead(200, { ...headers, 'content-length': slow.length });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(slow.subarray(sent, sent + 16 * 1024));
        sent += 16 * 1024;
        if (sent >= slow.length) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const root = mkdtempSync(join(tmpdir(), 'shelf-s3-stall-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const place = new S3BlobPlace({
    bucket: 'stalled',
    prefix: '',
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    requestTimeoutMs: 300,
    partBytes: PART_BYTES,
    tempDir: join(root, 'tmp'),
  });
  const store = new BlobStore(root, place);
  let started = Date.now();
  await t.rejects(store.has(sha256), { code: 'STORAGE_UNAVAILABLE', status: 503 }, 'no answer');
  t.ok(Date.now() - started < 10_000, `given up after ${Date.now() - started} ms`);
  started = Date.now();
  const stream = await store.open(sha256);
  await t.rejects(buffer(stream), 'the body stopped: the stream fails rather than waiting for ever');
  t.ok(Date.now() - started < 10_000, `given up after ${Date.now() - started} ms`);
  started = Date.now();
  t.same(await buffer(await store.open(slowSha256)), slow, 'a body that keeps coming is read whole, however long it takes');
  t.ok(Date.now() - started > 900, `it took ${Date.now() - started} ms, more than the deadline`);
});
