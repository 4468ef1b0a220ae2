import t from 'tap';
import { DownloadStats } from '../../src/repos/download-stats.js';
import type { CacheTally, DownloadTally, MetadataIndex } from '../../src/storage/metadata-index.js';

t.test('counts a failed flush could not write are kept and written by the next one', async (t) => {
  const written: { downloads: DownloadTally[]; cache: CacheTally[] }[] = [];
  let failures = 1;
  const index = {
    recordDownloads: async (downloads: DownloadTally[], cache: CacheTally[]) => {
      if (failures-- > 0) throw new Error('database or disk is full');
      written.push({ downloads, cache });
    },
  } as unknown as MetadataIndex;
  const stats = new DownloadStats(index, 3_600_000);
  t.teardown(() => stats.close());

  stats.record({ repo: 'r', path: 'a', cacheStatus: 'HIT' });
  stats.record({ repo: 'r', path: 'a', cacheStatus: 'MISS' });
  await t.rejects(stats.flush(), /disk is full/);
  stats.record({ repo: 'r', path: 'a', cacheStatus: 'HIT' });
  stats.record({ repo: 'r', path: 'b' });
  await stats.flush();
  t.equal(written.length, 1);
  t.match(written[0]!.downloads, [{ repo: 'r', path: 'a', count: 3 }, { repo: 'r', path: 'b', count: 1 }]);
  t.match(written[0]!.cache, [{ repo: 'r', hits: 2, misses: 1 }]);
});

t.test('many paths are written in small transactions, and a failure part-way keeps only what was not written', async (t) => {
  const batches: number[] = [];
  let calls = 0;
  const index = {
    recordDownloads: async (downloads: DownloadTally[]) => {
      if (++calls === 3) throw new Error('busy');
      batches.push(downloads.length);
    },
  } as unknown as MetadataIndex;
  const stats = new DownloadStats(index, 3_600_000);
  t.teardown(() => stats.close());
  for (let i = 0; i < 1000; i++) stats.record({ repo: 'r', path: `p${i}` });
  await t.rejects(stats.flush());
  t.same(batches, [256, 256], 'two batches written before the failure');
  await stats.flush();
  t.same(batches, [256, 256, 256, 232], 'the rest, and only the rest, written next time');
});
