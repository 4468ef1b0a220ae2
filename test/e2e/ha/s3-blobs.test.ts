import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ociImages, pullCheck, pushImages } from '../../helpers/docker-harness.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { s3For } from '../../helpers/s3.js';
import { startShelf } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

// Blobs in a bucket of Ceph's RADOS gateway; the data directory keeps only temp files, keys and the index.
const s3 = await s3For(t);
if (s3) {
  const blobs = s3.blobsConfig({ prefix: 'shelf/', partSize: '5MiB', requestTimeoutSeconds: 5 });
  const bucket = blobs.bucket as string;
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3 });
  t.teardown(() => client.destroy());
  const repositories = [
    { key: 'files', format: 'generic', type: 'local', allowDelete: true },
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'docker-local', format: 'docker', type: 'local' },
  ];
  // Nothing kept in memory: every download reads the bucket. No grace period: what is unreferenced is garbage.
  const shelf = await startShelf({ repositories, storage: { blobs, memoryCacheBytes: 0, gc: { schedule: false, graceSeconds: 0 } } });
  t.teardown(() => shelf.stop());
  await new Identity(shelf.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
  const admin = { authorization: `Basic ${Buffer.from('root:root-password').toString('base64')}` };

  const hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const keys = async () => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'shelf/' }));
    return (listed.Contents ?? []).map((object) => object.Key!);
  };
  const liveKey = (sha256: string) => `shelf/sha256/${sha256.slice(0, 2)}/${sha256}`;
  const trashKey = (sha256: string) => `shelf/trash/${sha256.slice(0, 2)}/${sha256}`;
  const deploy = (path: string, body: Buffer) => fetch(`${shelf.url}/files/${path}`, { method: 'PUT', body });
  const download = async (path: string) => Buffer.from(await (await fetch(`${shelf.url}/files/${path}`)).arrayBuffer());
  const collectGarbage = async () => {
    const res = await fetch(`${shelf.url}/api/system/gc`, { method: 'POST', headers: admin });
    return { status: res.status, report: (await res.json()) as { blobs: { count: number } } };
  };

  t.test('a deploy lands in the bucket (in parts when large), not in the data directory, and is served whole', async (t) => {
    const large = randomBytes(12 * 1024 * 1024 + 333);
    t.equal((await deploy('large.bin', large)).status, 201);
    t.same(await download('large.bin'), large);
    const ranged = await fetch(`${shelf.url}/files/large.bin`, { headers: { range: 'bytes=100-199' } });
    t.equal(ranged.status, 206);
    t.same(Buffer.from(await ranged.arrayBuffer()), large.subarray(100, 200));
    t.ok((await keys()).includes(liveKey(hex(large))), 'the object is in the bucket');
    t.notOk(existsSync(join(shelf.dataDir, 'blobs', 'sha256', hex(large).slice(0, 2))), 'no blob file on disk');
    const ready = await fetch(`${shelf.url}/-/readyz`);
    t.equal(ready.status, 200);
    t.match(await ready.json(), { checks: { storage: { type: 's3', ok: true } } });
  });

  t.test('skopeo pushes and pulls every test image, npm publishes and installs, through the bucket', async (t) => {
    const host = shelf.url.replace('http://', '');
    const images = ociImages();
    await pushImages(`${host}/docker-local`, images);
    const pulled = await pullCheck(`${host}/docker-local`, images);
    t.equal(pulled.failed, 0, pulled.output);
    t.ok(pulled.passed > 0, pulled.output);

    await publishPackage(t, `${shelf.url}/npm-local/`, 's3-demo', '1.0.0');
    const consumer = new ClientProject(`${shelf.url}/npm-local/`, { name: 'consumer', version: '1.0.0', private: true, dependencies: { 's3-demo': '1.0.0' } });
    t.teardown(() => consumer.remove());
    const installed = await consumer.npm('install');
    t.equal(installed.code, 0, installed.stderr);
  });

  t.test('a damaged object is never served: refused, or its transfer broken off; quarantined; a new deploy repairs it', async (t) => {
    const damage = async (bytes: Buffer) => {
      const damaged = Buffer.from(bytes);
      damaged[123_456] ^= 0x01;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: liveKey(hex(bytes)), Body: damaged }));
    };
    // A small file is verified whole before anything is sent; a large one as it streams.
    const small = randomBytes(300_000);
    const large = randomBytes(3 * 1024 * 1024);
    for (const [path, bytes] of [['small.bin', small], ['large-damaged.bin', large]] as const) {
      t.equal((await deploy(path, bytes)).status, 201);
      await damage(bytes);
    }
    const refused = await fetch(`${shelf.url}/files/small.bin`);
    t.equal(refused.status, 500);
    t.match(await refused.text(), /BLOB_CORRUPT/);
    const streamed = await fetch(`${shelf.url}/files/large-damaged.bin`);
    t.equal(streamed.status, 200, 'the large one starts');
    await t.rejects(streamed.arrayBuffer(), 'and its transfer fails before the last bytes');
    for (const [path, bytes] of [['small.bin', small], ['large-damaged.bin', large]] as const) {
      const after = await fetch(`${shelf.url}/files/${path}`);
      t.equal(after.status, 500);
      t.match(await after.text(), /BLOB_MISSING/);
      const listed = await keys();
      t.notOk(listed.includes(liveKey(hex(bytes))), 'out of service');
      t.ok(listed.some((key) => key.startsWith(`shelf/quarantine/${hex(bytes)}.`)), 'kept in quarantine/ for inspection');
      t.equal((await deploy(path, bytes)).status, 201);
      t.same(await download(path), bytes, 'stored afresh');
    }
  });

  t.test('garbage collection trashes an unreferenced object, deletes it one collection later, and keeps what is referenced', async (t) => {
    const kept = randomBytes(10_000);
    const gone = randomBytes(20_000);
    t.equal((await deploy('kept.bin', kept)).status, 201);
    t.equal((await deploy('gone.bin', gone)).status, 201);
    t.equal((await fetch(`${shelf.url}/files/gone.bin`, { method: 'DELETE' })).status, 204);
    // S3 keeps modification times in whole seconds: the objects must be older than the collection's start.
    await sleep(1100);
    const first = await collectGarbage();
    t.equal(first.status, 200);
    t.ok(first.report.blobs.count >= 1, 'the deleted file was collected');
    let listed = await keys();
    t.notOk(listed.includes(liveKey(hex(gone))));
    t.ok(listed.includes(trashKey(hex(gone))), 'held in the trash until the next collection');
    await sleep(1100);
    t.equal((await collectGarbage()).status, 200);
    listed = await keys();
    t.notOk(listed.includes(trashKey(hex(gone))), 'deleted for good');
    t.ok(listed.includes(liveKey(hex(kept))));
    t.same(await download('kept.bin'), kept);
    t.same(await download('large.bin').then((b) => b.length), 12 * 1024 * 1024 + 333, 'earlier deploys are still served');
  });

  t.test('with the object store down, requests fail with 503 saying so, readiness says why, and a deploy leaves nothing', async (t) => {
    s3.stop();
    const res = await fetch(`${shelf.url}/files/kept.bin`);
    t.equal(res.status, 503);
    t.match(await res.text(), /STORAGE_UNAVAILABLE/);
    const refused = await deploy('during-outage.bin', randomBytes(1000));
    t.equal(refused.status, 503);
    t.same(
      (await import('node:fs')).readdirSync(join(shelf.dataDir, 'blobs', 'tmp')).filter((name) => !name.startsWith('readyz')),
      [],
      'no temp file is left',
    );
    t.equal((await fetch(`${shelf.url}/files/during-outage.bin`)).status, 404, 'nothing was indexed');
    const ready = await fetch(`${shelf.url}/-/readyz`);
    t.equal(ready.status, 503);
    t.match(await ready.json(), { checks: { storage: { type: 's3', ok: false, error: /S3 bucket/ } } });
  });
}
