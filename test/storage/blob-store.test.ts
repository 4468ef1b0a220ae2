import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import t from 'tap';
import { BlobStore, tempOwner } from '../../src/storage/blob-store.js';
import { blobStoreContract } from './blob-store-contract.js';

const hex = (alg: string, data: Buffer | string) => createHash(alg).update(data).digest('hex');

async function freshStore(options: { memoryCacheBytes?: number; trustVerifiedSeconds?: number } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'shelf-blobs-'));
  const store = BlobStore.onDisk(root, undefined, options);
  await store.init();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return store;
}

const chunks = (...parts: (string | Buffer)[]) => Readable.from(parts.map((p) => Buffer.from(p)));

t.test('write hashes with all four algorithms in one pass and stores by sha256', async (t) => {
  const store = await freshStore();
  const blob = await store.write(chunks('hello ', 'world'));
  t.same(blob, {
    sha256: hex('sha256', 'hello world'),
    sha1: hex('sha1', 'hello world'),
    md5: hex('md5', 'hello world'),
    sha512: hex('sha512', 'hello world'),
    size: 11,
  });
  t.ok(await store.has(blob.sha256));
  t.equal(await text(await store.open(blob.sha256)), 'hello world');
  t.equal(await text(await store.open(blob.sha256, { start: 6, end: 10 })), 'world');
  t.same(readdirSync(store.tempDir), []);
});

t.test('a mismatch with the expected digest or size stores nothing', async (t) => {
  const store = await freshStore();
  await t.rejects(store.write(chunks('abc'), { expect: { sha256: hex('sha256', 'abd') } }), { code: 'DIGEST_MISMATCH' });
  await t.rejects(store.write(chunks('abc'), { expect: { md5: hex('md5', 'x') } }), { code: 'DIGEST_MISMATCH' });
  await t.rejects(store.write(chunks('abc'), { expect: { size: 4 } }), { code: 'SIZE_MISMATCH' });
  await t.rejects(store.write(chunks('abcde'), { expect: { size: 4 } }), { code: 'SIZE_MISMATCH' });
  t.notOk(await store.has(hex('sha256', 'abc')));
  t.same(readdirSync(store.tempDir), []);
  const ok = await store.write(chunks('abc'), { expect: { sha256: hex('sha256', 'abc'), size: 3 } });
  t.equal(ok.size, 3);
});

t.test('maxBytes stops a body as soon as it is too large', async (t) => {
  const store = await freshStore();
  let pulled = 0;
  const endless = Readable.from(
    (function* () {
      for (;;) {
        pulled++;
        yield randomBytes(1024);
      }
    })(),
  );
  await t.rejects(store.write(endless, { maxBytes: 10_000 }), { code: 'TOO_LARGE', status: 413 });
  t.ok(pulled < 20, 'reading stopped at the limit');
  t.same(readdirSync(store.tempDir), []);
});

t.test('a source that fails mid-way leaves nothing', async (t) => {
  const store = await freshStore();
  const failing = Readable.from(
    (async function* () {
      yield Buffer.from('partial');
      throw new Error('connection reset');
    })(),
  );
  await t.rejects(store.write(failing), /connection reset/);
  t.notOk(await store.has(hex('sha256', 'partial')));
  t.same(readdirSync(store.tempDir), []);
});

t.test('the same content twice is one blob', async (t) => {
  const store = await freshStore();
  const a = await store.write(chunks('same'));
  const b = await store.write(chunks('sa', 'me'));
  t.equal(a.sha256, b.sha256);
  t.equal(readdirSync(join(store.place.blobDir, a.sha256.slice(0, 2))).length, 1);
});

t.test("temp files: at start-up those of this host's dead processes and long-abandoned ones of other hosts; or those of one dead process", async (t) => {
  const store = await freshStore();
  const deadPid = 2 ** 22 + 17;
  const files = {
    dead: `${tempOwner(deadPid)}-a.part`,
    otherDead: `${tempOwner(deadPid + 1)}-b.part`,
    running: `${tempOwner()}-c.part`,
    otherHostFresh: 'elsewhere.example.12-d.part',
    otherHostOld: 'elsewhere.example.13-e.part',
  };
  for (const name of Object.values(files)) writeFileSync(join(store.tempDir, name), 'x');
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
  utimesSync(join(store.tempDir, files.otherHostOld), twoDaysAgo, twoDaysAgo);
  t.equal(await store.removeTempFiles(deadPid), 1);
  t.notOk(readdirSync(store.tempDir).includes(files.dead));
  t.equal(await store.removeTempFiles(), 2);
  t.same(readdirSync(store.tempDir).sort(), [files.running, files.otherHostFresh].sort(), "a running writer's and another node's current files stay");
});

t.test('unknown and malformed digests', async (t) => {
  const store = await freshStore();
  await t.rejects(store.open('0'.repeat(64)), { code: 'BLOB_MISSING', status: 500 });
  t.throws(() => store.place.pathOf('../../etc/passwd'), { code: 'DIGEST_INVALID' });
});

t.test('read: a small blob, or a range of it, in one buffer, verified; a damaged one is quarantined', async (t) => {
  const store = await freshStore();
  const blob = await store.write(chunks('0123456789'));
  t.equal((await store.read(blob.sha256, blob.size)).toString(), '0123456789');
  t.equal((await store.read(blob.sha256, blob.size, { start: 2, end: 4 })).toString(), '234');
  await t.rejects(store.read(blob.sha256, blob.size + 5), { code: 'BLOB_CORRUPT' }, 'shorter on disk than recorded');
  t.notOk(await store.has(blob.sha256), 'and moved out of service');
  await t.rejects(store.read('a'.repeat(64), 3), { code: 'BLOB_MISSING' });
  const other = await store.write(chunks('abcdefghij'));
  writeFileSync(store.place.pathOf(other.sha256), 'abcdefghiX');
  await t.rejects(store.read(other.sha256, other.size, { start: 0, end: 1 }), { code: 'BLOB_CORRUPT' }, 'a range of a damaged blob too');
  await t.rejects(store.requirePresent(other.sha256), { code: 'BLOB_MISSING' });
});

t.test('read: verified bytes are kept in memory and served from there, within the budget', async (t) => {
  const store = await freshStore({ memoryCacheBytes: 16 });
  const blob = await store.write(chunks('0123456789'));
  t.equal((await store.read(blob.sha256, blob.size)).toString(), '0123456789');
  writeFileSync(store.place.pathOf(blob.sha256), '012345678X');
  t.equal((await store.read(blob.sha256, blob.size)).toString(), '0123456789', 'the verified copy, not the damaged file');
  t.equal((await store.read(blob.sha256, blob.size, { start: 8, end: 9 })).toString(), '89');

  const other = await store.write(chunks('abcdefghij'));
  t.equal((await store.read(other.sha256, other.size)).toString(), 'abcdefghij');
  await t.rejects(store.read(blob.sha256, blob.size), { code: 'BLOB_CORRUPT' }, 'pushed out by the second (16 bytes hold one), read from disk again');

  await store.quarantine(other.sha256);
  await t.rejects(store.read(other.sha256, other.size), { code: 'BLOB_MISSING' }, 'a quarantined blob is forgotten too');
});

t.test('open: a whole blob is verified as it streams, and a damaged one ends short', async (t) => {
  const store = await freshStore();
  const content = Buffer.alloc(1024 * 1024, 7);
  const blob = await store.write([content]);
  t.same(Buffer.concat((await (await store.open(blob.sha256)).toArray()) as Buffer[]), content);
  const damaged = Buffer.from(content);
  damaged[5] = 8;
  writeFileSync(store.place.pathOf(blob.sha256), damaged);
  const received: Buffer[] = [];
  const stream = await store.open(blob.sha256);
  await t.rejects(
    (async () => {
      for await (const chunk of stream) received.push(chunk as Buffer);
    })(),
    { code: 'BLOB_CORRUPT' },
  );
  t.ok(Buffer.concat(received).length < content.length, 'the last chunk was held back');
  t.notOk(await store.has(blob.sha256), 'quarantined');
});

t.test('open: a file verified whole is trusted only while unchanged; damage with its mtime set back is still found', async (t) => {
  const store = await freshStore({ trustVerifiedSeconds: 3600 });
  const content = Buffer.alloc(2 * 1024 * 1024, 7);
  const blob = await store.write([content]);
  const readAll = async () => Buffer.concat((await (await store.open(blob.sha256)).toArray()) as Buffer[]);
  t.same(await readAll(), content, 'verified whole');
  t.same(await readAll(), content, 'and again, unchanged');
  const path = store.place.pathOf(blob.sha256);
  const { mtime, atime } = statSync(path);
  const damaged = Buffer.from(content);
  damaged[1_500_000] = 8;
  writeFileSync(path, damaged);
  utimesSync(path, atime, mtime);
  await t.rejects(readAll(), { code: 'BLOB_CORRUPT' }, 'the change time moved, so it was hashed again');
  t.notOk(await store.has(blob.sha256), 'quarantined');
});

t.test('sweep deletes an old unreferenced blob, and keeps one a write or a link renewed, or the index took back', async (t) => {
  const store = await freshStore();
  const old = new Date(Date.now() - 3600_000);
  const age = async (sha256: string) => (await import('node:fs/promises')).utimes(store.place.pathOf(sha256), old, old);
  const cutoff = Date.now() - 60_000;

  const garbage = await store.write(chunks('garbage'));
  await age(garbage.sha256);
  t.equal(await store.sweep(garbage.sha256, cutoff, async () => false), 7);
  t.notOk(await store.has(garbage.sha256));
  t.equal(await store.sweep(garbage.sha256, cutoff, async () => false), undefined, 'gone already: nothing to do');

  // The same bytes deployed again after the blob was chosen for sweeping: the fresh file stays.
  const rewritten = await store.write(chunks('deployed again'));
  await age(rewritten.sha256);
  await store.write(chunks('deployed again'));
  t.equal(await store.sweep(rewritten.sha256, cutoff, async () => false), 'young');
  t.equal(await text(await store.open(rewritten.sha256)), 'deployed again');

  // A link (promotion, mount) renews an existing blob before the index refers to it.
  const linked = await store.write(chunks('linked'));
  await age(linked.sha256);
  await store.touch(linked.sha256);
  t.equal(await store.sweep(linked.sha256, cutoff, async () => false), 'young');
  t.ok(await store.has(linked.sha256));

  // Referenced again by the time it was moved aside: put back.
  const referenced = await store.write(chunks('referenced'));
  await age(referenced.sha256);
  t.equal(await store.sweep(referenced.sha256, cutoff, async () => true), 'needed');
  t.equal(await text(await store.open(referenced.sha256)), 'referenced');
  t.same(readdirSync(store.tempDir), [], 'nothing left aside');
  await t.rejects(store.touch(garbage.sha256), { code: 'BLOB_MISSING' }, 'a link to a swept blob fails instead of indexing nothing');
});

t.test('a large write hands its sha1, md5 and sha512 to a worker thread that follows the temp file', async (t) => {
  const { WorkerPool } = await import('../../src/workers/pool.js');
  const { ThreadedDigests } = await import('../../src/workers/threaded-digests.js');
  const pool = new WorkerPool(2);
  t.teardown(() => pool.close());
  const root = mkdtempSync(join(tmpdir(), 'shelf-blobs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  let follows = 0;
  const threaded = new ThreadedDigests(pool);
  const store = BlobStore.onDisk(root, undefined, { otherDigests: { follow: (path) => (follows++, threaded.follow(path)) } });
  await store.init();

  const content = randomBytes(5 * 1024 * 1024 + 17);
  const pieces = Array.from({ length: 40 }, (_, i) => content.subarray(i * 131_073, (i + 1) * 131_073)).filter((p) => p.length > 0);
  const slowly = async function* () {
    for (const piece of pieces) {
      yield piece;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const blob = await store.write(slowly());
  t.equal(follows, 1);
  t.same(blob, { sha256: hex('sha256', content), sha1: hex('sha1', content), md5: hex('md5', content), sha512: hex('sha512', content), size: content.length });

  await t.rejects(store.write([content], { expect: { sha512: hex('sha512', 'other') } }), { code: 'DIGEST_MISMATCH' }, 'digests from the thread are checked too');
  const small = await store.write(chunks('small'));
  t.equal(follows, 2, 'a small write is hashed inline');
  t.equal(small.md5, hex('md5', 'small'));

  const writer = await store.createWriter();
  await writer.append(content);
  await writer.abort();
  t.same(readdirSync(store.tempDir), [], 'an abandoned write leaves nothing');
});

t.test('the blob store contract, on disk', async (t) => {
  blobStoreContract(t, async () => {
    const store = await freshStore();
    return {
      store,
      damage: async (sha256, bytes) => writeFileSync(store.place.pathOf(sha256), bytes),
      remove: async (sha256) => rmSync(store.place.pathOf(sha256)),
      partBytes: 0,
    };
  });
});
