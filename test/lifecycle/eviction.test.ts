import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { CacheEviction } from '../../src/lifecycle/eviction.js';
import { createLogger } from '../../src/observability/logger.js';
import { BlobStore } from '../../src/storage/blob-store.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';

const DAY = 86_400_000;

/**
 * An index and blob store with `files` 1000-byte files per repository, last downloaded at `downloadedAt(i)`:
 * by default in order, one repository after the other (file 0 of the first least recently).
 */
async function setup(t: Tap.Test, raw: Record<string, unknown>, files: Record<string, number>, downloadedAt?: (i: number) => number) {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-eviction-'));
  const blobs = BlobStore.onDisk(join(dir, 'blobs'));
  await blobs.init();
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  t.teardown(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = validateConfig({ storage: { dataDir: dir }, ...raw });
  const stored: Record<string, string[]> = {};
  let clock = Date.now() - 100_000;
  for (const [repo, count] of Object.entries(files)) {
    stored[repo] = [];
    for (let i = 0; i < count; i++) {
      const blob = await blobs.write([randomBytes(1000)]);
      await index.putArtifact({ repo, path: `f${i}`, blob, contentType: 'x' }, 'always');
      await index.recordDownloads([{ repo, path: `f${i}`, count: 1, lastAt: downloadedAt?.(i) ?? (clock += 1000) }], []);
      stored[repo].push(blob.sha256);
    }
  }
  const eviction = new CacheEviction({ blobs, index, config, log: createLogger('silent') });
  const paths = async (repo: string) => (await index.listArtifacts(repo)).map((r) => r.path);
  return { blobs, index, eviction, stored, paths };
}

const remote = (key: string, cache: Record<string, unknown> = {}) => ({ key, format: 'generic', type: 'remote', url: 'http://127.0.0.1:9/', cache });

t.test('past the high watermark of cache.maxBytes, least recently downloaded files go down to the low watermark', async (t) => {
  const { index, blobs, eviction, stored, paths } = await setup(
    t,
    { repositories: [remote('cache', { maxBytes: 8000 }), { key: 'hosted', format: 'generic', type: 'local' }] },
    { cache: 10, hosted: 2 },
  );
  // One cached file's bytes are also hosted: evicting it must not take them from the hosted file.
  const hosted = (await index.getArtifact('hosted', 'f0'))!;
  await index.putArtifact({ repo: 'cache', path: 'f0', blob: hosted.blob, contentType: 'x' }, 'always');
  const report = await eviction.run();
  t.same(report, [{ repo: 'cache', files: 4, bytes: 4000 }], '10000 bytes > 90% of 8000: down to 75%, 6000');
  t.same(await paths('cache'), ['f4', 'f5', 'f6', 'f7', 'f8', 'f9']);
  t.same(await paths('hosted'), ['f0', 'f1'], 'hosted content is never evicted');
  for (const sha256 of stored.cache!.slice(1, 4)) t.notOk(await blobs.has(sha256), 'evicted bytes are deleted at once');
  t.ok(await blobs.has(hosted.blob.sha256), 'bytes another path refers to stay');
  t.same(await eviction.run(), [], 'under the high watermark nothing goes');
});

t.test('files not downloaded for evictUnusedAfterDays go, whatever the size', async (t) => {
  const { eviction, paths } = await setup(t, { repositories: [remote('cache', { evictUnusedAfterDays: 7 })] }, { cache: 3 }, (i) =>
    i === 1 ? Date.now() - 10 * DAY : Date.now() - i * 1000,
  );
  t.same(await eviction.run(), [{ repo: 'cache', files: 1, bytes: 1000 }]);
  t.same(await paths('cache'), ['f0', 'f2']);
});

t.test('storage.maxCacheBytes bounds all caches together, least recently used first across them', async (t) => {
  const { eviction, paths } = await setup(t, { storage: { maxCacheBytes: 6000 }, repositories: [remote('a'), remote('b')] }, { a: 4, b: 4 });
  // a's files were downloaded before b's: 8000 > 5400 (90%), down to 4500 (75%): a's four go.
  t.same(await eviction.run(), [{ repo: 'a', files: 4, bytes: 4000 }]);
  t.same(await paths('a'), []);
  t.same(await paths('b'), ['f0', 'f1', 'f2', 'f3']);
});

t.test('one eviction at a time in the cluster', async (t) => {
  const { index, eviction } = await setup(t, { repositories: [remote('cache', { maxBytes: 1000 })] }, { cache: 2 });
  await index.acquireLease('cache eviction', 'another-process', 60_000);
  await t.rejects(eviction.run(), { code: 'JOB_RUNNING' });
});
