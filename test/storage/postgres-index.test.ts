import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import type { ShelfIndex } from '../../src/app.js';
import { ShelfError } from '../../src/errors.js';
import { copySqliteToPostgres } from '../../src/storage/index-copy.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres-migrations.js';
import { PostgresIndex } from '../../src/storage/postgres-index.js';
import { UNANNOUNCED_LAG_MS } from '../../src/storage/notified-read-memo.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';
import { blob, metadataIndexContract } from './index-contract.js';
import { postgresFor } from '../helpers/postgres.js';

const server = await postgresFor(t);
if (server) {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-pg-index-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const open = async (url: string, options: { connectTimeoutMs?: number } = {}) => {
    const index = await PostgresIndex.open({ url, ...options });
    t.teardown(() => index.close());
    return index;
  };
  const freshIndex = async () => open(await server.createDatabase());
  const until = async (check: () => Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  };

  metadataIndexContract(t, freshIndex);

  t.test('nodes starting together migrate once', async (t) => {
    const url = await server.createDatabase();
    const [a, b, c] = await Promise.all([open(url), open(url), open(url)]);
    t.equal(await a.schemaVersion, POSTGRES_MIGRATIONS.length);
    await b.putArtifact({ repo: 'r', path: 'p', blob: blob(1), contentType: 'x' }, 'always');
    t.ok(await c.getArtifact('r', 'p'), 'one database behind all three');
  });

  t.test("a security change on one node reaches another node's revision by notification, within a second", async (t) => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([open(url), open(url)]);
    await a.putUser({ name: 'u', passwordHash: null, admin: false, disabled: false, createdAt: 0 });
    await a.putToken({ id: 't1', hash: 'h1', username: 'u', description: '', createdAt: 0, expiresAt: null, lastUsedAt: null, revokedAt: null });
    t.ok(await until(async () => (await b.securityRevision()) === (await a.securityRevision()), 1000), 'b has caught up');
    const before = await b.securityRevision();
    const started = Date.now();
    t.ok(await a.revokeToken('t1', Date.now()));
    t.ok(await until(async () => (await b.securityRevision()) > before, 1000), 'b sees the revocation');
    t.ok(Date.now() - started < 1000);
    t.ok((await a.securityRevision()) > before, 'a sees its own change at once');
  });

  t.test('records read are kept until a change is announced: at once for this process, by notification for others', async (t) => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([open(url), open(url)]);
    await a.putArtifact({ repo: 'r', path: 'p', blob: blob(1), contentType: 'x' }, 'always');
    t.ok(await until(async () => (await b.getArtifact('r', 'p'))?.blob.sha256 === blob(1).sha256, 1000));
    await b.putArtifact({ repo: 'r', path: 'p', blob: blob(2), contentType: 'x' }, 'always');
    t.equal((await b.getArtifact('r', 'p'))?.blob.sha256, blob(2).sha256, "the writer's own change, at once");
    t.ok(await until(async () => (await a.getArtifact('r', 'p'))?.blob.sha256 === blob(2).sha256, 1000), "another node's, within a second");
    await a.deleteArtifact('r', 'p');
    t.ok(await until(async () => (await b.getArtifact('r', 'p')) === undefined, 1000), 'a delete too');
    await a.putArtifact({ repo: 'r', path: 'q', blob: { sha256: blob(3).sha256, size: 30 }, contentType: 'x' }, 'always');
    t.ok(await until(async () => (await b.getArtifact('r', 'q')) !== undefined, 1000));
    await a.setOtherDigests(blob(3).sha256, { sha1: blob(3).sha1, md5: blob(3).md5, sha512: blob(3).sha512 });
    t.ok(await until(async () => (await b.getArtifact('r', 'q'))?.blob.sha1 === blob(3).sha1, 1000), 'digests computed later');
  });

  t.test('download counts are not announced: the counting process sees them at once, others within the lag, and kept records stay kept', async (t) => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([open(url), open(url)]);
    await a.putArtifact({ repo: 'r', path: 'counted', blob: blob(1), contentType: 'x' }, 'always');
    await a.putArtifact({ repo: 'r', path: 'other', blob: blob(2), contentType: 'x' }, 'always');
    t.ok(await until(async () => (await b.getArtifact('r', 'counted')) !== undefined, 1000));
    t.equal((await b.getArtifact('r', 'other'))?.downloadCount, 0, 'b keeps this record');
    // Changed behind every index's back, unannounced: b would see it only by reading the row again.
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    await direct.query(`UPDATE artifacts SET download_count = 99 WHERE path = 'other'`);
    await direct.end();
    await a.recordDownloads([{ repo: 'r', path: 'counted', count: 3, lastAt: Date.now() }], []);
    t.equal((await a.getArtifact('r', 'counted'))?.downloadCount, 3, "the counting process's own count, at once");
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.equal((await b.getArtifact('r', 'other'))?.downloadCount, 0, 'counting announced nothing: b did not read its records again');
    t.ok(await until(async () => (await b.getArtifact('r', 'counted'))?.downloadCount === 3, UNANNOUNCED_LAG_MS + 1000), 'another process sees the count within the lag');
    await a.putArtifact({ repo: 'r', path: 'counted', blob: blob(3), contentType: 'x' }, 'always');
    t.ok(await until(async () => (await b.getArtifact('r', 'counted'))?.blob.sha256 === blob(3).sha256, 1000), 'a change of content is still announced');
  });

  t.test('an SQLite index copied into PostgreSQL, and back into SQLite, answers the same', async (t) => {
    const source = new SqliteIndex(join(dir, 'source.sqlite'));
    t.teardown(() => source.close());
    await populate(source);
    const url = await server.createDatabase();
    const progress: string[] = [];
    await (await PostgresIndex.open({ url })).close();
    const copied = await copySqliteToPostgres(join(dir, 'source.sqlite'), url, ({ table }) => progress.push(table));
    t.match(copied.find((c) => c.table === 'artifacts'), { rows: 3 });
    t.ok(progress.includes('users') && progress.includes('traffic_minutes'), 'progress per table');
    const copy = await open(url);
    t.same(await answers(copy), await answers(source), 'PostgreSQL answers as SQLite did');
    await t.rejects(copySqliteToPostgres(join(dir, 'source.sqlite'), url), /already holds/, 'never merged into a used index');
    t.same(await answers(copy), await answers(source), 'the refused copy changed nothing');

    await copy.snapshot(join(dir, 'back.sqlite'));
    const back = new SqliteIndex(join(dir, 'back.sqlite'), { readOnly: true });
    t.teardown(() => back.close());
    t.same(await answers(back), await answers(source), "PostgreSQL's backup copy answers the same");
  });

  // Last: it stops the server.
  t.test('while the database is down requests fail with 503 INDEX_UNAVAILABLE; after, they work and notifications resume', async (t) => {
    const url = await server.createDatabase();
    const a = await open(url, { connectTimeoutMs: 1000 });
    const b = await open(url, { connectTimeoutMs: 1000 });
    await a.putUser({ name: 'u', passwordHash: null, admin: false, disabled: false, createdAt: 0 });
    await a.putArtifact({ repo: 'r', path: 'p', blob: blob(1), contentType: 'x' }, 'always');
    server.stop();
    const started = Date.now();
    const error = await a.getArtifact('r', 'p').catch((err: unknown) => err);
    t.ok(error instanceof ShelfError, 'a ShelfError');
    t.match(error, { code: 'INDEX_UNAVAILABLE', status: 503, headers: { 'Retry-After': '5' } });
    t.ok(Date.now() - started < 5000, 'within the connection deadline');
    await t.rejects(a.ping(), { code: 'INDEX_UNAVAILABLE' }, 'readiness fails');
    server.start();
    t.ok(await until(async () => (await a.getArtifact('r', 'p').catch(() => undefined)) !== undefined, 10_000), 'reads work again');
    t.match(await a.getArtifact('r', 'p'), { blob: blob(1) }, 'nothing lost');
    // b's listener reconnects within a second or two; a change on a then reaches it by notification.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const before = await b.securityRevision();
    await a.putUser({ name: 'u', passwordHash: null, admin: true, disabled: false, createdAt: 0 });
    t.ok(await until(async () => (await b.securityRevision()) > before, 1000), 'notifications reach b again');
  });
}

/** An index with one of everything a copy must carry. */
async function populate(index: ShelfIndex): Promise<void> {
  await index.putArtifact({ repo: 'r', path: 'a/b.bin', blob: blob(1), contentType: 'x/y' }, 'always');
  await index.putArtifact({ repo: 'r', path: 'a/c.bin', blob: { sha256: blob(2).sha256, size: 20 }, contentType: 'x/y' }, 'always');
  await index.putArtifact(
    { repo: 'cache', path: 'p', blob: blob(1), contentType: 'x', cache: { fetchedAt: 5, expiresAt: 10, upstreamEtag: '"e"' } },
    'always',
  );
  await index.recordDownloads([{ repo: 'r', path: 'a/b.bin', count: 4, lastAt: 77 }], [{ repo: 'cache', hits: 3, misses: 1 }]);
  await index.setProperties('r', 'a/b.bin', { build: ['1', '2'] });
  await index.putNegative('cache', 'gone', 9_999_999_999_999);
  await index.putUser({ name: 'alice', passwordHash: 'scrypt$x', email: 'a@example.org', admin: true, disabled: false, createdAt: 1 });
  await index.putToken({
    id: 't', hash: 'h', username: 'alice', description: 'ci', createdAt: 2, expiresAt: null, lastUsedAt: 3, revokedAt: null,
    scope: { repositories: ['r'], actions: ['read'] },
  });
  await index.putGroup({ name: 'devs', description: 'd', members: ['alice'] });
  await index.putPermissionTarget({ name: 't', repositories: ['r'], includes: ['**'], excludes: [], anonymous: ['read'], users: {}, groups: {} });
  await index.putSession({ hash: 's', username: 'alice', createdAt: 1, expiresAt: 9_999_999_999_999 });
  await index.applyBundle({ id: 'b', predecessor: null, createdAt: 9, keyId: 'k', source: 'upload', bytes: 10 }, []);
  await index.recordReplicationRun('edge', { at: 1, records: 1, bytes: 2, bundle: { id: 'b', createdAt: 9 } });
  await index.recordTraffic([{ minute: Math.floor(Date.now() / 60_000), requests: 3, errors: 1, cacheHits: 1, cacheMisses: 1 }], 0);
}

/** Everything a user of the index can read back. */
async function answers(index: ShelfIndex) {
  return {
    artifacts: [...(await index.listArtifacts('r')), ...(await index.listArtifacts('cache'))],
    awaiting: await index.blobsAwaitingDigests('', 10),
    usage: await index.repositoryUsage(),
    properties: await index.getProperties('r', 'a/b.bin'),
    negative: await index.getNegative('cache', 'gone'),
    users: await index.listUsers(),
    tokens: await index.listTokens(),
    groups: await index.listGroups(),
    targets: await index.listPermissionTargets(),
    session: await index.findSession('s', 10),
    bundles: await index.importedBundles(),
    replication: await index.replicationStates(),
    traffic: await index.traffic(0),
    checksum: (await index.findByChecksum({ md5: blob(1).md5 })).map((r) => `${r.repo}/${r.path}`),
  };
}
