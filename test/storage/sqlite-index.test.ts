import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';

const blob = (n: number) => ({
  sha256: n.toString(16).padStart(64, '0'),
  sha1: n.toString(16).padStart(40, 'a'),
  md5: n.toString(16).padStart(32, 'b'),
  sha512: n.toString(16).padStart(128, 'c'),
  size: n * 10,
});

function freshIndex() {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-index-'));
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  t.teardown(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { index, file: join(dir, 'index.sqlite') };
}

t.test('migrations run once and record the schema version', async (t) => {
  const { index, file } = freshIndex();
  const version = index.schemaVersion;
  t.ok(version >= 2, 'artifacts, then users and tokens');
  const again = new SqliteIndex(file);
  t.equal(again.schemaVersion, version, 'a second process opening the same file does not migrate again');
  await again.close();
});

t.test('put, get, list and delete artifacts', async (t) => {
  const { index } = freshIndex();
  const put = await index.putArtifact({ repo: 'r', path: 'a/b.bin', blob: blob(1), contentType: 'x/y' }, 'always');
  t.ok('stored' in put);
  const record = await index.getArtifact('r', 'a/b.bin');
  t.match(record, { repo: 'r', path: 'a/b.bin', contentType: 'x/y', blob: blob(1), downloadCount: 0 });
  t.equal(record?.cache, undefined, 'local content has no cache state');
  await index.putArtifact({ repo: 'r', path: 'a/c.bin', blob: blob(2), contentType: 'x/y' }, 'always');
  await index.putArtifact({ repo: 'r', path: 'a_b/z.bin', blob: blob(2), contentType: 'x/y' }, 'always');
  t.same((await index.listArtifacts('r', { prefix: 'a/' })).map((r) => r.path), ['a/b.bin', 'a/c.bin'], 'LIKE wildcards in the prefix are literal');
  t.same((await index.listArtifacts('r', { after: 'a/b.bin', limit: 1 })).map((r) => r.path), ['a/c.bin']);
  t.equal(await index.storageBytes(), 30, 'a blob used twice counts once');
  t.ok(await index.deleteArtifact('r', 'a/b.bin'));
  t.notOk(await index.deleteArtifact('r', 'a/b.bin'));
  t.equal(await index.getArtifact('r', 'a/b.bin'), undefined);
});

t.test('create-only refuses a second write even of the same content', async (t) => {
  const { index } = freshIndex();
  t.ok('stored' in (await index.putArtifact({ repo: 'npm', path: 'v', blob: blob(1), contentType: 'a' }, 'create-only')));
  const again = await index.putArtifact({ repo: 'npm', path: 'v', blob: blob(1), contentType: 'a' }, 'create-only');
  t.ok('conflict' in again);
});

t.test('same-content-only keeps the first content', async (t) => {
  const { index } = freshIndex();
  await index.putArtifact({ repo: 'rel', path: 'x', blob: blob(1), contentType: 'a' }, 'same-content-only');
  t.ok('stored' in (await index.putArtifact({ repo: 'rel', path: 'x', blob: blob(1), contentType: 'a' }, 'same-content-only')));
  const conflict = await index.putArtifact({ repo: 'rel', path: 'x', blob: blob(2), contentType: 'a' }, 'same-content-only');
  t.ok('conflict' in conflict);
  t.equal((await index.getArtifact('rel', 'x'))?.blob.sha256, blob(1).sha256);
});

t.test('cache state, negative cache and downloads', async (t) => {
  const { index } = freshIndex();
  await index.putNegative('remote', 'gone', 5000);
  t.equal(await index.getNegative('remote', 'gone'), 5000);
  await index.putArtifact(
    { repo: 'remote', path: 'gone', blob: blob(3), contentType: 'a', cache: { fetchedAt: 1, expiresAt: 2, upstreamEtag: '"e"' } },
    'always',
  );
  t.equal(await index.getNegative('remote', 'gone'), undefined, 'storing a path clears its negative entry');
  await index.updateCacheState('remote', 'gone', { fetchedAt: 10, expiresAt: 20 });
  t.same((await index.getArtifact('remote', 'gone'))?.cache, { fetchedAt: 10, expiresAt: 20, upstreamEtag: '"e"' });
  await index.recordDownloads([
    { repo: 'remote', path: 'gone', count: 2, lastAt: 100 },
    { repo: 'remote', path: 'gone', count: 1, lastAt: 50 },
  ]);
  const record = await index.getArtifact('remote', 'gone');
  t.equal(record?.downloadCount, 3);
  t.equal(record?.downloadedAt, 100);
});

t.test('properties are multi-valued and replaced per key', async (t) => {
  const { index } = freshIndex();
  await index.putArtifact({ repo: 'r', path: 'p', blob: blob(4), contentType: 'a' }, 'always');
  await index.setProperties('r', 'p', { os: ['linux', 'darwin'], build: ['1'] });
  await index.setProperties('r', 'p', { build: ['2'] });
  t.same(await index.getProperties('r', 'p'), { build: ['2'], os: ['darwin', 'linux'] });
  await index.deleteProperties('r', 'p', ['os']);
  t.same(await index.getProperties('r', 'p'), { build: ['2'] });
  await index.deleteArtifact('r', 'p');
  t.same(await index.getProperties('r', 'p'), {}, 'deleting the artifact drops its properties');
});

t.test('checksum search across repositories', async (t) => {
  const { index } = freshIndex();
  await index.putArtifact({ repo: 'a', path: 'one', blob: blob(5), contentType: 'x' }, 'always');
  await index.putArtifact({ repo: 'b', path: 'two', blob: blob(5), contentType: 'x' }, 'always');
  t.same((await index.findByChecksum({ sha1: blob(5).sha1.toUpperCase() })).map((r) => `${r.repo}/${r.path}`), ['a/one', 'b/two']);
  t.same(await index.findByChecksum({ md5: blob(6).md5 }), []);
});
