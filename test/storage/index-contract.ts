import type { Test } from 'tap';
import type { IdentityStore } from '../../src/storage/identity-store.js';
import type { MetadataIndex } from '../../src/storage/metadata-index.js';

/** A blob record numbered `n`: digests of the right lengths, distinct per number, and `n * 10` bytes. */
export const blob = (n: number) => ({
  sha256: n.toString(16).padStart(64, '0'),
  sha1: n.toString(16).padStart(40, 'a'),
  md5: n.toString(16).padStart(32, 'b'),
  sha512: n.toString(16).padStart(128, 'c'),
  size: n * 10,
});

/**
 * What every metadata index must do, whatever keeps it: run by each implementation's test file with a
 * factory of fresh, empty indexes (removed by the factory's own teardown).
 */
export function metadataIndexContract(t: Test, fresh: () => (MetadataIndex & IdentityStore) | Promise<MetadataIndex & IdentityStore>): void {
  t.test('put, get, list and delete artifacts', async (t) => {
    const index = await fresh();
    const put = await index.putArtifact({ repo: 'r', path: 'a/b.bin', blob: blob(1), contentType: 'x/y' }, 'always');
    t.ok('stored' in put);
    const record = await index.getArtifact('r', 'a/b.bin');
    t.match(record, { repo: 'r', path: 'a/b.bin', contentType: 'x/y', blob: blob(1), downloadCount: 0 });
    t.equal(record?.cache, undefined, 'local content has no cache state');
    await index.putArtifact({ repo: 'r', path: 'a/c.bin', blob: blob(2), contentType: 'x/y' }, 'always');
    await index.putArtifact({ repo: 'r', path: 'a_b/z.bin', blob: blob(2), contentType: 'x/y' }, 'always');
    t.same(
      (await index.listArtifacts('r', { prefix: 'a/' })).map((r) => r.path),
      ['a/b.bin', 'a/c.bin'],
      'LIKE wildcards in the prefix are literal',
    );
    t.same(
      (await index.listArtifacts('r', { after: 'a/b.bin', limit: 1 })).map((r) => r.path),
      ['a/c.bin'],
    );
    t.equal(await index.storageBytes(), 30, 'a blob used twice counts once');
    t.ok(await index.deleteArtifact('r', 'a/b.bin'));
    t.notOk(await index.deleteArtifact('r', 'a/b.bin'));
    t.equal(await index.getArtifact('r', 'a/b.bin'), undefined);
  });

  t.test('create-only refuses a second write even of the same content', async (t) => {
    const index = await fresh();
    t.ok('stored' in (await index.putArtifact({ repo: 'npm', path: 'v', blob: blob(1), contentType: 'a' }, 'create-only')));
    const again = await index.putArtifact({ repo: 'npm', path: 'v', blob: blob(1), contentType: 'a' }, 'create-only');
    t.ok('conflict' in again);
  });

  t.test('same-content-only keeps the first content', async (t) => {
    const index = await fresh();
    await index.putArtifact({ repo: 'rel', path: 'x', blob: blob(1), contentType: 'a' }, 'same-content-only');
    t.ok('stored' in (await index.putArtifact({ repo: 'rel', path: 'x', blob: blob(1), contentType: 'a' }, 'same-content-only')));
    const conflict = await index.putArtifact({ repo: 'rel', path: 'x', blob: blob(2), contentType: 'a' }, 'same-content-only');
    t.ok('conflict' in conflict);
    t.equal((await index.getArtifact('rel', 'x'))?.blob.sha256, blob(1).sha256);
  });

  t.test('cache state, negative cache and downloads', async (t) => {
    const index = await fresh();
    await index.putNegative('remote', 'gone', 5000);
    t.equal(await index.getNegative('remote', 'gone'), 5000);
    await index.putArtifact(
      { repo: 'remote', path: 'gone', blob: blob(3), contentType: 'a', cache: { fetchedAt: 1, expiresAt: 2, upstreamEtag: '"e"' } },
      'always',
    );
    t.equal(await index.getNegative('remote', 'gone'), undefined, 'storing a path clears its negative entry');
    await index.updateCacheState('remote', 'gone', { fetchedAt: 10, expiresAt: 20 });
    t.same((await index.getArtifact('remote', 'gone'))?.cache, { fetchedAt: 10, expiresAt: 20, upstreamEtag: '"e"' });
    await index.recordDownloads(
      [
        { repo: 'remote', path: 'gone', count: 2, lastAt: 100 },
        { repo: 'remote', path: 'gone', count: 1, lastAt: 50 },
      ],
      [{ repo: 'remote', hits: 3, misses: 1 }],
    );
    const record = await index.getArtifact('remote', 'gone');
    t.equal(record?.downloadCount, 3);
    t.equal(record?.downloadedAt, 100);
    t.match(await index.usageOf('remote'), { cacheHits: 3, cacheMisses: 1 });
  });

  t.test("each repository's files and bytes follow every put, overwrite and delete", async (t) => {
    const index = await fresh();
    const usage = async (repo: string) => {
      const { files, bytes } = await index.usageOf(repo);
      return { files, bytes };
    };
    await index.putArtifact({ repo: 'r', path: 'a', blob: blob(1), contentType: 'x' }, 'always');
    await index.putArtifact({ repo: 'r', path: 'b', blob: blob(1), contentType: 'x' }, 'always');
    await index.putArtifact({ repo: 'other', path: 'a', blob: blob(5), contentType: 'x' }, 'always');
    t.same(await usage('r'), { files: 2, bytes: 20 }, 'one blob at two paths counts twice');
    await index.putArtifact({ repo: 'r', path: 'a', blob: blob(3), contentType: 'x' }, 'always');
    t.same(await usage('r'), { files: 2, bytes: 40 }, 'an overwrite replaces the old size');
    await index.putArtifact({ repo: 'r', path: 'a', blob: blob(3), contentType: 'y' }, 'always');
    t.same(await usage('r'), { files: 2, bytes: 40 }, 'the same content again changes nothing');
    await index.deleteArtifact('r', 'b');
    t.same(await usage('r'), { files: 1, bytes: 30 });
    t.same(await usage('other'), { files: 1, bytes: 50 });
    t.same(await usage('none'), { files: 0, bytes: 0 });
  });

  t.test('a quota refuses what would pass it, counting what an overwrite frees', async (t) => {
    const index = await fresh();
    t.ok('stored' in (await index.putArtifact({ repo: 'q', path: 'a', blob: blob(6), contentType: 'x' }, 'always', 100)));
    const refused = await index.putArtifact({ repo: 'q', path: 'b', blob: blob(5), contentType: 'x' }, 'always', 100);
    t.match(refused, { overQuota: { repo: 'q', files: 1, bytes: 60 } });
    t.equal(await index.getArtifact('q', 'b'), undefined);
    t.ok('stored' in (await index.putArtifact({ repo: 'q', path: 'a', blob: blob(10), contentType: 'x' }, 'always', 100)), '60 replaced by 100 fits');
    t.ok('stored' in (await index.putArtifact({ repo: 'q', path: 'b', blob: blob(5), contentType: 'x' }, 'always')), 'no quota, no limit');
  });

  t.test('a lease has one holder until it is released or expires', async (t) => {
    const index = await fresh();
    t.ok(await index.acquireLease('job', 'a', 60_000));
    t.ok(await index.acquireLease('job', 'a', 60_000), 'its holder renews it');
    t.notOk(await index.acquireLease('job', 'b', 60_000));
    await index.releaseLease('job', 'b');
    t.notOk(await index.acquireLease('job', 'b', 60_000), 'only the holder releases it');
    await index.releaseLease('job', 'a');
    t.ok(await index.acquireLease('job', 'b', 1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    t.ok(await index.acquireLease('job', 'c', 60_000), 'an expired lease is free');
  });

  t.test('referenced digests by prefix, and checksum records of blobs nothing refers to', async (t) => {
    const index = await fresh();
    await index.putArtifact({ repo: 'r', path: 'a', blob: blob(1), contentType: 'x' }, 'always');
    await index.putArtifact({ repo: 'r', path: 'b', blob: blob(2), contentType: 'x' }, 'always');
    await index.putArtifact({ repo: 's', path: 'b', blob: blob(2), contentType: 'x' }, 'always');
    t.same((await index.blobDigestsWithPrefix('00')).sort(), [blob(1).sha256, blob(2).sha256]);
    t.same(await index.blobDigestsWithPrefix('01'), []);
    t.equal(await index.blobReferences(blob(2).sha256), 2);
    await index.deleteArtifact('r', 'a');
    t.equal(await index.forgetUnreferencedBlobs('00'), 1);
    t.same(await index.findByChecksum({ sha1: blob(1).sha1 }), []);
    t.equal(await index.blobReferences(blob(2).sha256), 2);
  });

  t.test('properties are multi-valued and replaced per key', async (t) => {
    const index = await fresh();
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
    const index = await fresh();
    await index.putArtifact({ repo: 'a', path: 'one', blob: blob(5), contentType: 'x' }, 'always');
    await index.putArtifact({ repo: 'b', path: 'two', blob: blob(5), contentType: 'x' }, 'always');
    t.same(
      (await index.findByChecksum({ sha1: blob(5).sha1.toUpperCase() })).map((r) => `${r.repo}/${r.path}`),
      ['a/one', 'b/two'],
    );
    t.same(await index.findByChecksum({ md5: blob(6).md5 }), []);
  });

  t.test('a conditional delete spares an entry renewed since it was read', async (t) => {
    const index = await fresh();
    await index.putArtifact({ repo: 'd', path: 'img/_blobs/x', blob: blob(1), contentType: 'x' }, 'always');
    const read = (await index.getArtifact('d', 'img/_blobs/x'))!;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await index.renewArtifact('d', 'img/_blobs/x');
    t.notOk(await index.deleteArtifact('d', 'img/_blobs/x', read.modifiedAt), 'renewed after it was read: kept');
    const renewed = (await index.getArtifact('d', 'img/_blobs/x'))!;
    t.ok(renewed.modifiedAt > read.modifiedAt);
    t.ok(await index.deleteArtifact('d', 'img/_blobs/x', renewed.modifiedAt));
    t.equal(await index.getArtifact('d', 'img/_blobs/x'), undefined);
  });

  t.test("a folder's children by skip scan: each once, in key order, a page at a time", async (t) => {
    const index = await fresh();
    const paths = ['a/x', 'a/y/z', 'a-b', 'a.txt', 'a0', 'b/deep/1', 'b/deep/2', 'c', 'ünïcode/f', 'other/a/x'];
    for (const [i, path] of paths.entries()) await index.putArtifact({ repo: 'r', path, blob: blob(i + 1), contentType: 'x' }, 'always');
    await index.putArtifact({ repo: 'q', path: 'zzz', blob: blob(1), contentType: 'x' }, 'always');
    const names = (children: { name: string; folder: boolean }[]) => children.map((c) => `${c.name}${c.folder ? '/' : ''}`);
    const all = await index.listChildren('r', '', 100);
    t.same(names(all), ['a-b', 'a.txt', 'a/', 'a0', 'b/', 'c', 'other/', 'ünïcode/'], "path order: '-' and '.' sort before '/'");
    t.same(
      all.find((c) => c.name === 'c'),
      { name: 'c', folder: false, next: 'c\u0000', size: 80, modifiedAt: all.find((c) => c.name === 'c')!.modifiedAt },
    );
    const pages: string[][] = [];
    let from: string | undefined;
    do {
      const page = await index.listChildren('r', '', 3, from);
      pages.push(names(page));
      from = page.length === 3 ? page.at(-1)!.next : undefined;
    } while (from);
    t.same(pages, [
      ['a-b', 'a.txt', 'a/'],
      ['a0', 'b/', 'c'],
      ['other/', 'ünïcode/'],
    ]);
    t.same(names(await index.listChildren('r', 'a/', 100)), ['x', 'y/']);
    t.same(names(await index.listChildren('r', 'b/deep/', 100)), ['1', '2']);
    t.same(await index.listChildren('r', 'nothing/', 100), []);
    t.same(names(await index.listChildren('r', 'a/', 100, 'zzz')), [], 'a cursor past the folder ends it');
  });

  t.test('property search: every pair must match, an empty value matches any', async (t) => {
    const index = await fresh();
    for (const [i, path] of ['p1', 'p2', 'p3'].entries()) await index.putArtifact({ repo: 'r', path, blob: blob(i + 1), contentType: 'x' }, 'always');
    await index.setProperties('r', 'p1', { build: ['1'], state: ['ok'] });
    await index.setProperties('r', 'p2', { build: ['2'], state: ['ok', 'old'] });
    await index.setProperties('r', 'p3', { build: ['3'] });
    const find = async (query: [string, string][], limit = 10, after?: string) => (await index.findByProperties('r', query, limit, after)).map((r) => r.path);
    t.same(await find([['state', 'ok']]), ['p1', 'p2']);
    t.same(await find([['state', 'old']]), ['p2'], 'any of a key’s values');
    t.same(await find([['build', '']]), ['p1', 'p2', 'p3']);
    t.same(
      await find([
        ['state', 'ok'],
        ['build', '2'],
      ]),
      ['p2'],
    );
    t.same(
      await find([
        ['state', ''],
        ['build', '3'],
      ]),
      [],
    );
    t.same(await find([['build', '']], 1, 'p1'), ['p2']);
    t.same(await index.findByProperties('other', [['build', '']], 10), [], 'one repository at a time');
  });

  t.test('web UI sessions: found until they expire, gone when deleted or with their user', async (t) => {
    const index = await fresh();
    await index.putUser({ name: 'u', passwordHash: null, admin: false, disabled: false, createdAt: 0 });
    const now = Date.now();
    await index.putSession({ hash: 'h1', username: 'u', createdAt: now, expiresAt: now + 1000 });
    t.equal(await index.findSession('h1', now), 'u');
    t.equal(await index.findSession('h1', now + 1000), undefined, 'expired');
    t.equal(await index.findSession('h2', now), undefined);
    await index.putSession({ hash: 'h2', username: 'u', createdAt: now + 2000, expiresAt: now + 5000 });
    t.equal(await index.findSession('h1', now), undefined, 'a new sign-in clears out the expired ones');
    await index.deleteSession('h2');
    t.equal(await index.findSession('h2', now + 2000), undefined);
    await index.putSession({ hash: 'h3', username: 'u', createdAt: now, expiresAt: now + 5000 });
    await index.deleteUser('u');
    t.equal(await index.findSession('h3', now), undefined, 'deleted with the user');
  });

  t.test('traffic minutes add up across processes and are forgotten after a day', async (t) => {
    const index = await fresh();
    const minute = (m: number, requests: number) => ({ minute: m, requests, errors: 1, cacheHits: 2, cacheMisses: 0 });
    await index.recordTraffic([minute(100, 5), minute(101, 1)], 0);
    await index.recordTraffic([minute(101, 2)], 0);
    t.same(await index.traffic(100), [minute(100, 5), { minute: 101, requests: 3, errors: 2, cacheHits: 4, cacheMisses: 0 }]);
    t.same(
      (await index.traffic(101)).map((m) => m.minute),
      [101],
    );
    await index.recordTraffic([minute(2000, 1)], 101);
    t.same(
      (await index.traffic(0)).map((m) => m.minute),
      [101, 2000],
    );
  });

  t.test('concurrent writes of one path: create-only stores one, same-content-only keeps one content', async (t) => {
    const index = await fresh();
    const once = await Promise.all(
      Array.from({ length: 8 }, () => index.putArtifact({ repo: 'npm', path: 'p/-/p-1.0.0.tgz', blob: blob(1), contentType: 'a' }, 'create-only')),
    );
    t.equal(once.filter((r) => 'stored' in r).length, 1, 'published once');
    const racing = await Promise.all(
      [1, 2, 3, 4, 1, 2].map((n) => index.putArtifact({ repo: 'rel', path: 'x.jar', blob: blob(n), contentType: 'a' }, 'same-content-only')),
    );
    const kept = (await index.getArtifact('rel', 'x.jar'))!.blob.sha256;
    for (const result of racing) {
      if ('stored' in result) t.equal(result.stored.blob.sha256, kept, 'every success stored the content that stays');
      else t.ok('conflict' in result && result.conflict.blob.sha256 === kept, 'every refusal names the content that stays');
    }
    t.match(await index.usageOf('rel'), { files: 1, bytes: blob(Number.parseInt(kept, 16)).size });
  });

  t.test('concurrent puts under a quota never pass it together', async (t) => {
    const index = await fresh();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => index.putArtifact({ repo: 'q', path: `f${i}`, blob: blob(3), contentType: 'x' }, 'always', 100)),
    );
    t.equal(results.filter((r) => 'stored' in r).length, 3, 'three of 30 bytes fit in 100');
    t.match(await index.usageOf('q'), { files: 3, bytes: 90 });
  });

  t.test('nodes report by heartbeat; the list holds those heard from lately', async (t) => {
    const index = await fresh();
    const node = (id: string, heartbeatAt: number) => ({ id, host: 'h', url: `http://${id}`, version: '1', startedAt: 10, heartbeatAt });
    await index.heartbeat(node('b', 1000));
    await index.heartbeat(node('a', 2000));
    await index.heartbeat(node('a', 1500));
    t.same(await index.listNodes(0), [node('a', 2000), node('b', 1000)], 'by id; a late heartbeat never moves one back');
    t.same((await index.listNodes(1500)).map((n) => n.id), ['a']);
  });

  t.test('a lease held by a dead holder is taken over, once', async (t) => {
    const index = await fresh();
    t.ok(await index.acquireLease('gc', 'dead', 60_000));
    t.equal(await index.leaseHolder('gc'), 'dead');
    const takeovers = await Promise.all([index.takeOverLease('gc', 'dead', 'x', 60_000), index.takeOverLease('gc', 'dead', 'y', 60_000)]);
    t.same(takeovers.filter(Boolean).length, 1);
    t.notOk(await index.takeOverLease('gc', 'dead', 'z', 60_000));
  });

  t.test('a bundle applies all its artifacts and records itself; replication runs add up', async (t) => {
    const index = await fresh();
    await index.putNegative('r', 'b', Date.now() + 60_000);
    const artifact = (path: string, n: number) => ({ repo: 'r', path, blob: blob(n), contentType: 'x', createdAt: 5, modifiedAt: 6 });
    await index.applyBundle(
      { id: 'b1', predecessor: null, createdAt: 100, keyId: 'k', source: 'upload', bytes: 30 },
      [artifact('a', 1), artifact('b', 2)],
    );
    t.match(await index.getArtifact('r', 'a'), { createdAt: 5, modifiedAt: 6, blob: blob(1) });
    t.equal(await index.getNegative('r', 'b'), undefined, 'what the bundle brings is no longer missing');
    t.match(await index.importedBundles(), [{ id: 'b1', predecessor: null, createdAt: 100, keyId: 'k', source: 'upload', records: 2, bytes: 30 }]);
    t.match(await index.usageOf('r'), { files: 2, bytes: 30 });
    await index.recordReplicationRun('edge', { at: 1, records: 2, bytes: 30, bundle: { id: 'b1', createdAt: 100 } });
    await index.recordReplicationRun('edge', { at: 2, records: 0, bytes: 0, error: 'offline' });
    t.same(await index.replicationStates(), [
      { name: 'edge', lastBundle: { id: 'b1', createdAt: 100 }, lastRunAt: 2, lastSuccessAt: 1, lastError: 'offline', runs: 2, records: 2, bytes: 30 },
    ]);
  });

  t.test("an upstream's shared budget: newer counts win, a block only grows", async (t) => {
    const index = await fresh();
    t.equal(await index.getUpstreamBudget('hub'), undefined);
    await index.setUpstreamBudget('hub', { limit: 100, remaining: 40, observedAt: 2000 });
    await index.setUpstreamBudget('hub', { limit: 100, remaining: 90, observedAt: 1000 });
    t.same(await index.getUpstreamBudget('hub'), { limit: 100, remaining: 40, observedAt: 2000 }, 'a late, older announcement is ignored');
    await index.setUpstreamBudget('hub', { remaining: 0, blockedUntil: 9000, observedAt: 3000 });
    await index.setUpstreamBudget('hub', { remaining: 5, blockedUntil: 5000, observedAt: 4000 });
    t.same(await index.getUpstreamBudget('hub'), { limit: 100, remaining: 5, blockedUntil: 9000, observedAt: 4000 });
  });

  t.test('fetch claims: one holder at a time; its head and end are readable; an ended or lapsed claim is taken anew', async (t) => {
    const index = await fresh();
    t.same(await index.claimFetch('k', 'a', 60_000), { claimed: true });
    t.same(await index.claimFetch('k', 'b', 60_000), { claimed: false, holder: 'a' });
    await index.announceFetch('k', 'b', 'not b', undefined, 1000);
    await index.announceFetch('k', 'a', 'head', undefined, 1000);
    t.same(await index.claimFetch('k', 'b', 60_000), { claimed: false, holder: 'a', head: 'head' }, 'only the holder announces');
    t.match(await index.fetchClaim('k'), { holder: 'a', head: 'head', live: true });
    await index.announceFetch('k', 'a', undefined, 'stored', 60_000);
    t.match(await index.fetchClaim('k'), { holder: 'a', head: 'head', end: 'stored', live: false }, 'the end stays readable');
    t.same(await index.claimFetch('k', 'b', 60_000), { claimed: true }, 'an ended fetch is claimed anew');
    t.same(await index.fetchClaim('k'), { holder: 'b', live: true }, 'with nothing announced');
    t.same(await index.claimFetch('lapsing', 'a', 1), { claimed: true });
    await new Promise((resolve) => setTimeout(resolve, 5));
    t.same(await index.claimFetch('lapsing', 'b', 60_000), { claimed: true }, 'a lapsed claim is taken over');
    await index.forgetFetches(Date.now() + 120_000);
    t.equal(await index.fetchClaim('k'), undefined, 'forgotten');
  });
}
