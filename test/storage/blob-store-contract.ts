import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Test } from 'tap';
import { BLOB_PREFIXES, type BlobStore } from '../../src/storage/blob-store.js';

/** A blob store under test, with a way around it to damage or remove what it stores (as a failing disk or an operator would). */
export interface StoreUnderTest {
  store: BlobStore;
  /** Puts `bytes` where the blob `sha256` is kept, behind the store's back. */
  damage(sha256: string, bytes: Buffer): Promise<void>;
  /** Removes the blob behind the store's back. */
  remove(sha256: string): Promise<void>;
  /** Blobs above this size are stored in parts (S3 multipart); 0 when the place has no parts. */
  partBytes: number;
}

const sha256Of = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const fromBuffers = (...parts: Buffer[]) => Readable.from(parts);
const read = async (store: BlobStore, sha256: string, range?: { start: number; end: number }) => buffer(await store.open(sha256, range));
const tempFiles = (store: BlobStore) => readdirSync(store.tempDir);

/**
 * What every place blobs are kept in must do the same way, through the BlobStore the rest of Shelf uses:
 * run by blob-store.test.ts (a directory) and s3-blob-store.test.ts (Ceph's RADOS gateway).
 */
export function blobStoreContract(t: Test, make: () => Promise<StoreUnderTest>): void {
  t.test('a blob written is read back whole, by range and in one buffer, and listed under its prefix', async (t) => {
    const { store } = await make();
    const bytes = randomBytes(200_000);
    const blob = await store.write(fromBuffers(bytes.subarray(0, 70_000), bytes.subarray(70_000)));
    t.equal(blob.sha256, sha256Of(bytes));
    t.ok(await store.has(blob.sha256));
    t.same(await read(store, blob.sha256), bytes, 'streamed whole');
    t.same(await read(store, blob.sha256, { start: 1000, end: 1999 }), bytes.subarray(1000, 2000), 'a range');
    t.same(await store.read(blob.sha256, bytes.length), bytes, 'one buffer');
    t.equal((await store.statBlob(blob.sha256))?.size, bytes.length);
    t.ok((await store.listPrefix(blob.sha256.slice(0, 2))).includes(blob.sha256));
    t.same(tempFiles(store), [], 'no temp file is left');
    // Stored again: harmless, and still one blob.
    await store.write(fromBuffers(bytes));
    t.same(await read(store, blob.sha256), bytes);
  });

  t.test('a scan of every prefix in order lists each blob once, under its own prefix; a new scan sees new blobs', async (t) => {
    const { store } = await make();
    const stored = new Set<string>();
    for (let i = 0; i < 40; i++) stored.add((await store.write(fromBuffers(Buffer.from(`blob ${i}`)))).sha256);
    const scan = async () => {
      const listed: string[] = [];
      for (const prefix of BLOB_PREFIXES) {
        const names = await store.listPrefix(prefix);
        t.ok(names.every((name) => name.startsWith(prefix)), `only ${prefix}…`);
        listed.push(...names);
      }
      return listed;
    };
    t.same((await scan()).sort(), [...stored].sort());
    const late = await store.write(fromBuffers(Buffer.from('written after the first scan')));
    t.ok((await scan()).includes(late.sha256));
  });

  t.test('content larger than a part is stored in parts and read back whole', async (t) => {
    const { store, partBytes } = await make();
    const bytes = randomBytes(Math.max(partBytes, 1024 * 1024) * 2 + 12_345);
    const blob = await store.write(fromBuffers(bytes));
    t.same(await read(store, blob.sha256), bytes);
    t.same(await read(store, blob.sha256, { start: bytes.length - 10, end: bytes.length - 1 }), bytes.subarray(-10));
    t.same(tempFiles(store), []);
  });

  t.test('a write that does not meet its expectation stores nothing and leaves nothing', async (t) => {
    const { store } = await make();
    const bytes = Buffer.from('expected content');
    await t.rejects(store.write(fromBuffers(bytes), { expect: { sha256: sha256Of('other') } }), { code: 'DIGEST_MISMATCH' });
    await t.rejects(store.write(fromBuffers(bytes), { expect: { size: 3 } }), { code: 'SIZE_MISMATCH' });
    t.notOk(await store.has(sha256Of(bytes)));
    t.same(await store.listPrefix(sha256Of(bytes).slice(0, 2)), []);
    t.same(tempFiles(store), []);
    // The refusal blocks nothing: the right content is stored at once.
    await store.write(fromBuffers(bytes), { expect: { sha256: sha256Of(bytes), size: bytes.length } });
    t.ok(await store.has(sha256Of(bytes)));
  });

  t.test('damaged content is never served: the transfer breaks off, the blob is quarantined, a new write repairs it', async (t) => {
    const { store, damage } = await make();
    const bytes = randomBytes(300_000);
    const blob = await store.write(fromBuffers(bytes));
    const damaged = Buffer.from(bytes);
    damaged[150_000] ^= 0xff;
    await damage(blob.sha256, damaged);
    await t.rejects(read(store, blob.sha256), { code: 'BLOB_CORRUPT' }, 'the stream fails');
    t.notOk(await store.has(blob.sha256), 'quarantined');
    await t.rejects(store.open(blob.sha256), { code: 'BLOB_MISSING' });

    const small = await store.write(fromBuffers(Buffer.from('small and whole')));
    await damage(small.sha256, Buffer.from('small and broke'));
    await t.rejects(store.read(small.sha256, 15), { code: 'BLOB_CORRUPT' }, 'one buffer: refused before anything is returned');
    t.notOk(await store.has(small.sha256));

    await store.write(fromBuffers(bytes));
    t.same(await read(store, blob.sha256), bytes, 'stored afresh');
  });

  t.test('a missing blob is an error, never an empty answer', async (t) => {
    const { store, remove } = await make();
    const blob = await store.write(fromBuffers(Buffer.from('soon gone')));
    await remove(blob.sha256);
    t.notOk(await store.has(blob.sha256));
    await t.rejects(store.open(blob.sha256), { code: 'BLOB_MISSING' });
    await t.rejects(store.read(blob.sha256, 9), { code: 'BLOB_MISSING' });
    await t.rejects(store.touch(blob.sha256), { code: 'BLOB_MISSING' });
    await t.rejects(store.withLocalFile(blob.sha256, async () => undefined), { code: 'BLOB_MISSING' });
    await t.rejects(store.open('../../etc/passwd'), { code: 'DIGEST_INVALID' });
  });

  t.test('a local file holds the blob for hashing elsewhere, and is gone afterwards where it was a copy', async (t) => {
    const { store } = await make();
    const bytes = randomBytes(50_000);
    const blob = await store.write(fromBuffers(bytes));
    const seen = await store.withLocalFile(blob.sha256, async (path) => readFileSync(path));
    t.same(seen, bytes);
    t.same(tempFiles(store), []);
  });

  t.test('a file adopted whole is stored under the digest given', async (t) => {
    const { store } = await make();
    const bytes = randomBytes(10_000);
    const file = join(store.tempDir, 'adopted.part');
    writeFileSync(file, bytes);
    await store.adopt(file, { sha256: sha256Of(bytes), size: bytes.length });
    t.same(await read(store, sha256Of(bytes)), bytes);
    t.same(tempFiles(store), []);
  });

  t.test('a sweep keeps young and needed blobs, and a dry run deletes nothing', async (t) => {
    const { store } = await make();
    const blob = await store.write(fromBuffers(randomBytes(1000)));
    const never = async () => false;
    t.equal(await store.sweep(blob.sha256, Date.now() - 3_600_000, never), 'young', 'written within the grace period');
    const later = Date.now() + 10_000;
    t.equal(await store.sweep(blob.sha256, later, async () => true), 'needed', 'referenced meanwhile');
    t.equal(await store.sweep(blob.sha256, later, never, true), 1000, 'a dry run says what it would free');
    t.ok(await store.has(blob.sha256), 'all three kept it');
  });

  t.test('an unreferenced old blob is swept away, and a later write of the same content stores it again', async (t) => {
    const { store } = await make();
    const bytes = randomBytes(1000);
    const blob = await store.write(fromBuffers(bytes));
    const never = async () => false;
    t.equal(await store.sweep(blob.sha256, Date.now() + 10_000, never), 1000, 'the bytes freed');
    // A place that frees space one sweep later (S3) finishes the job now; a directory has nothing left to do.
    t.equal(await store.sweep(blob.sha256, Date.now() + 10_000, never), undefined);
    t.notOk(await store.has(blob.sha256));
    t.same(await store.listPrefix(blob.sha256.slice(0, 2)), []);
    await store.write(fromBuffers(bytes));
    t.same(await read(store, blob.sha256), bytes);
  });

  t.test('a link racing with a sweep keeps its blob: touched before, it is young; after, the blob is there or the touch fails', async (t) => {
    const { store } = await make();
    const bytes = randomBytes(1000);
    const blob = await store.write(fromBuffers(bytes));
    const cutOff = Date.now() + 10_000;
    // Referenced between the sweep's decision and its delete: the index's answer changes under it.
    let referenced = false;
    const outcome = await store.sweep(blob.sha256, cutOff, async () => referenced);
    t.equal(outcome, 1000);
    referenced = true;
    const touched = await store.touch(blob.sha256).then(
      () => true,
      (err: { code?: string }) => (err.code === 'BLOB_MISSING' ? false : Promise.reject(err)),
    );
    if (touched) {
      t.same(await read(store, blob.sha256), bytes, 'a touch that succeeds means the blob is served');
      t.equal(await store.sweep(blob.sha256, cutOff, async () => referenced), 'needed', 'and the next sweep keeps it');
    } else {
      t.notOk(await store.has(blob.sha256), 'a touch that fails means the writer must store it again');
    }
  });
}
