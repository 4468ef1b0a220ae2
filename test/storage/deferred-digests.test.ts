import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { BlobStore } from '../../src/storage/blob-store.js';
import { DeferredDigests } from '../../src/storage/deferred-digests.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';
import { WorkerPool } from '../../src/workers/pool.js';

const hex = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex');

async function setUp(t: Test) {
  const root = mkdtempSync(join(tmpdir(), 'shelf-deferred-'));
  const pool = new WorkerPool(2);
  const blobs = BlobStore.onDisk(join(root, 'blobs'));
  await blobs.init();
  const index = new SqliteIndex(join(root, 'index.sqlite'));
  const deferred = new DeferredDigests(blobs, index, pool, pino({ level: 'silent' }));
  t.teardown(async () => {
    deferred.stop();
    await pool.close();
    await index.close();
    rmSync(root, { recursive: true, force: true });
  });
  /** Stores content the way a Docker remote does: sha256 only while writing, then indexed. */
  const store = async (path: string, content: Buffer) => {
    const blob = await blobs.write([content], { otherDigestsLater: true });
    await index.putArtifact({ repo: 'r', path, blob, contentType: 'application/octet-stream' }, 'always');
    return blob;
  };
  return { blobs, index, deferred, store };
}

t.test('stored with sha256 only; sha1, md5 and sha512 are computed afterwards and recorded', async (t) => {
  const { index, deferred, store } = await setUp(t);
  const content = randomBytes(3 * 1024 * 1024);
  const blob = await store('layer', content);
  t.same(blob, { sha256: hex('sha256', content), size: content.length }, 'the write computed sha256 only');
  t.same((await index.getArtifact('r', 'layer'))!.blob, blob, 'indexed without the others');
  t.same(await index.findByChecksum({ sha1: hex('sha1', content) }), [], 'not found by a digest not yet computed');
  t.same(await index.blobsAwaitingDigests('', 10), [blob.sha256]);

  deferred.add(blob.sha256);
  await deferred.idle();
  t.same((await index.getArtifact('r', 'layer'))!.blob, {
    sha256: hex('sha256', content),
    sha1: hex('sha1', content),
    md5: hex('md5', content),
    sha512: hex('sha512', content),
    size: content.length,
  });
  t.equal((await index.findByChecksum({ md5: hex('md5', content) })).length, 1, 'found by them now');
  t.same(await index.blobsAwaitingDigests('', 10), []);
});

t.test('small content, or content with another digest to meet, is hashed whole; a later whole write fills the record', async (t) => {
  const { blobs, index, store } = await setUp(t);
  const small = randomBytes(1024 * 1024);
  t.equal((await blobs.write([small], { otherDigestsLater: true })).md5, hex('md5', small), 'up to 1 MiB all are computed as it is written');
  const content = randomBytes(2 * 1024 * 1024);
  const checked = await blobs.write([content], { otherDigestsLater: true, expect: { sha512: hex('sha512', content) } });
  t.equal(checked.sha1, hex('sha1', content), 'with an expectation to meet, all are computed');
  await t.rejects(blobs.write([content], { otherDigestsLater: true, expect: { md5: hex('md5', Buffer.from('other')) } }), { code: 'DIGEST_MISMATCH' });

  const later = randomBytes(2 * 1024 * 1024);
  await store('a', later);
  const whole = await blobs.write([later]);
  await index.putArtifact({ repo: 'r', path: 'b', blob: whole, contentType: 'application/octet-stream' }, 'always');
  t.equal((await index.getArtifact('r', 'a'))!.blob.sha512, hex('sha512', later), 'the blob row took the digests of the later write');
});

t.test('a blob damaged before its digests are computed is quarantined, not described', async (t) => {
  const { blobs, index, deferred, store } = await setUp(t);
  const content = randomBytes(2 * 1024 * 1024);
  const blob = await store('layer', content);
  const file = blobs.place.pathOf(blob.sha256);
  const damaged = readFileSync(file);
  damaged[1000] ^= 0xff;
  writeFileSync(file, damaged);
  deferred.add(blob.sha256);
  await deferred.idle();
  t.equal((await index.getArtifact('r', 'layer'))!.blob.sha1, undefined, 'no digests of the damage were recorded');
  t.ok(readdirSync(blobs.place.quarantineDir).some((name) => name.startsWith(blob.sha256)), 'quarantined');
});

t.test('resume takes up, page by page, what a stopped process left waiting', async (t) => {
  const { index, deferred, store } = await setUp(t);
  const contents = Array.from({ length: 3 }, () => randomBytes(1536 * 1024));
  for (const [i, content] of contents.entries()) await store(`f${i}`, content);
  t.equal((await index.blobsAwaitingDigests('', 10)).length, 3);
  await deferred.resume();
  t.same(await index.blobsAwaitingDigests('', 10), [], 'none left waiting');
  for (const [i, content] of contents.entries()) t.equal((await index.getArtifact('r', `f${i}`))!.blob.md5, hex('md5', content));
});
