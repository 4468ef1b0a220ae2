import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BlobStore } from '../../src/storage/blob-store.js';
import { UploadSessions } from '../../src/storage/upload-sessions.js';
import { WorkerPool } from '../../src/workers/pool.js';

const root = mkdtempSync(join(tmpdir(), 'shelf-uploads-'));
const blobs = BlobStore.onDisk(root);
await blobs.init();
const workers = new WorkerPool(1);
const sessions = new UploadSessions(join(root, 'uploads'), blobs, workers, { expirySeconds: 3600, maxPerUser: 100 });
await sessions.init();
t.teardown(async () => {
  await workers.close();
  rmSync(root, { recursive: true, force: true });
});
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

t.test('chunks append; the finished upload is verified and moved into the blob store', async (t) => {
  const session = await sessions.start('repo/image', 'alice');
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
  const session = await sessions.start('repo/image', 'alice');
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
  const session = await sessions.start('repo/image', 'alice');
  session.size = await sessions.append(session, [Buffer.from('payload')], 1024);
  await t.rejects(sessions.finish(session, { sha256: sha256('other') }), { code: 'DIGEST_MISMATCH' });
  t.notOk(await blobs.has(sha256('payload')));
  t.equal(await sessions.get(session.id, 'repo/image'), undefined);
});

t.test('sessions expire by last activity: an expired one refuses data and is removed; ids that are not session ids are refused', async (t) => {
  const short = new UploadSessions(join(root, 'short'), blobs, workers, { expirySeconds: 2, maxPerUser: 100 });
  await short.init();
  const active = await short.start('repo/image', 'alice');
  const idle = await short.start('repo/image', 'alice');
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(root, 'short', `${active.id}.data`), old, old);
  utimesSync(join(root, 'short', `${idle.id}.data`), old, old);
  // Started long ago (rewritten as such), but the active one just received a chunk.
  for (const session of [active, idle]) {
    writeFileSync(join(root, 'short', `${session.id}.json`), JSON.stringify({ id: session.id, owner: 'repo/image', user: 'alice', startedAt: Date.now() - 60_000 }));
  }
  active.size = await short.append(active, [Buffer.from('chunk')], 1024);
  t.ok(await short.get(active.id, 'repo/image'), 'a long upload that keeps sending stays');
  t.equal(await short.get(idle.id, 'repo/image'), undefined, 'an idle one is expired, and refuses data');
  t.same(await short.stats(), { sessions: 1, bytes: 5 }, 'and is gone');
  utimesSync(join(root, 'short', `${active.id}.data`), old, old);
  t.equal(await short.removeAbandoned(), 1);
  t.same(readdirSync(join(root, 'short')), []);
  t.equal(await sessions.get('../../etc/passwd', 'repo/image'), undefined);
});

t.test('open sessions are capped per user', async (t) => {
  const capped = new UploadSessions(join(root, 'capped'), blobs, workers, { expirySeconds: 3600, maxPerUser: 2 });
  await capped.init();
  await capped.start('repo/image', 'bob');
  const second = await capped.start('repo/image', 'bob');
  await t.rejects(capped.start('repo/image', 'bob'), { code: 'TOO_MANY_REQUESTS', status: 429 });
  t.ok(await capped.start('repo/image', 'carol'), 'other users are not affected');
  await capped.cancel(second.id);
  t.ok(await capped.start('repo/image', 'bob'), 'a finished or cancelled session frees a place');
});
