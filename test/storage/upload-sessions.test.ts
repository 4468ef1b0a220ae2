import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FsBlobStore } from '../../src/storage/blob-store.js';
import { UploadSessions } from '../../src/storage/upload-sessions.js';
import { WorkerPool } from '../../src/workers/pool.js';

const root = mkdtempSync(join(tmpdir(), 'shelf-uploads-'));
const blobs = new FsBlobStore(root);
await blobs.init();
const workers = new WorkerPool(1);
const sessions = new UploadSessions(join(root, 'uploads'), blobs, workers);
await sessions.init();
t.teardown(async () => {
  await workers.close();
  rmSync(root, { recursive: true, force: true });
});
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

t.test('chunks append; the finished upload is verified and moved into the blob store', async (t) => {
  const session = await sessions.start('repo/image');
  session.size = await sessions.append(session, [Buffer.from('hello ')], 1024);
  session.size = await sessions.append(session, [Buffer.from('world')], 1024);
  t.equal((await sessions.get(session.id, 'repo/image'))?.size, 11);
  t.equal(await sessions.get(session.id, 'other/image'), undefined, 'another owner cannot see it');
  const blob = await sessions.finish(session, { sha256: sha256('hello world') });
  t.equal(blob.size, 11);
  t.ok(await blobs.has(sha256('hello world')));
  t.equal(await sessions.get(session.id, 'repo/image'), undefined, 'the session has ended');
});

t.test('a chunk that fails half-way is cut off again', async (t) => {
  const session = await sessions.start('repo/image');
  session.size = await sessions.append(session, [Buffer.from('abc')], 1024);
  async function* broken() {
    yield Buffer.from('def');
    throw new Error('client went away');
  }
  await t.rejects(sessions.append(session, broken(), 1024), /client went away/);
  t.equal((await sessions.get(session.id, 'repo/image'))?.size, 3);
  await t.rejects(sessions.append(session, [Buffer.alloc(2000)], 1024), { code: 'TOO_LARGE' });
  t.equal((await sessions.get(session.id, 'repo/image'))?.size, 3);
});

t.test('a wrong digest stores nothing and ends the session', async (t) => {
  const session = await sessions.start('repo/image');
  session.size = await sessions.append(session, [Buffer.from('payload')], 1024);
  await t.rejects(sessions.finish(session, { sha256: sha256('other') }), { code: 'DIGEST_MISMATCH' });
  t.notOk(await blobs.has(sha256('payload')));
  t.equal(await sessions.get(session.id, 'repo/image'), undefined);
});

t.test('abandoned sessions are removed; ids that are not session ids are refused', async (t) => {
  await sessions.start('repo/image');
  t.ok((await sessions.removeAbandoned(Date.now() + 1000)) >= 1);
  t.same(readdirSync(join(root, 'uploads')), []);
  t.equal(await sessions.get('../../etc/passwd', 'repo/image'), undefined);
});
