import pg from 'pg';
import type { StoredBlob } from './blob-store.js';
import type { OtherDigests } from './checksums.js';
import type { GroupRecord, IdentityStore, LoginThrottleKey, SessionRecord, TokenRecord, UserRecord } from './identity-store.js';
import {
  AWAITED,
  budgetParams,
  cacheColumns,
  otherClaim,
  SELECT_CLAIM,
  toReplicationState,
  type ReplicationRow,
  toClaim,
  type ClaimRow,
  SELECT_BUDGET,
  toBudget,
  type BudgetRow,
  likePrefix,
  SELECT_ARTIFACT,
  SELECT_USAGE,
  skipScan,
  toRecord,
  toToken,
  toUser,
  type ArtifactRow,
  type ScannedPath,
  type TokenRow,
  type UserRow,
} from './index-rows.js';
import type {
  ArtifactRecord,
  BundleApplied,
  BundledArtifact,
  CacheState,
  CacheTally,
  ChecksumQuery,
  DownloadTally,
  FolderChild,
  ImportedBundle,
  ListOptions,
  MetadataIndex,
  FetchClaim,
  NewArtifact,
  NodeRecord,
  OverwritePolicy,
  Properties,
  PropertyQuery,
  PutResult,
  ReplicationRun,
  ReplicationState,
  RepositoryUsage,
  TrafficMinute,
  UpstreamOutage,
} from './metadata-index.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { asIndexError, PG_TYPES } from './postgres-connection.js';
import { copyPostgresToSqlite } from './index-copy.js';
import { NotifiedReadMemo } from './notified-read-memo.js';
import type { PermissionTarget } from '../security/permissions.js';
import type { SharedBudget } from '../upstream/rate-limit.js';

export interface PostgresIndexOptions {
  /** A libpq connection string: `postgres://user:password@host:port/database?sslmode=…`. */
  url: string;
  /** Connections this process may hold. */
  poolSize?: number;
  /** The longest wait for a connection, and for any one statement (a deadline on every wait). */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
}

/** The advisory lock that serializes migrations across nodes (an arbitrary constant: "shelf" in ASCII). */
const MIGRATION_LOCK = 0x7368656c66;

/** Concurrency conflicts PostgreSQL resolves by failing one side: the transaction is run again. */
const RETRIED_SQLSTATES = new Set(['40001', '40P01']);
const TRANSACTION_ATTEMPTS = 5;

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * The index in PostgreSQL, for several nodes: each process holds a small pool. Transactions take row or
 * advisory locks where SQLite relied on its single writer (publish-once, same-content-only, quotas, login
 * throttling), so the guarantees hold across nodes. Security changes arrive by LISTEN/NOTIFY: the security
 * revision is read from memory, not from the database on every request.
 */
export class PostgresIndex implements MetadataIndex, IdentityStore {
  private readonly pool: pg.Pool;
  /** The revision as last notified; undefined while not listening (then every call reads it). */
  private revision: number | undefined;
  private listener: pg.Client | undefined;
  private readonly memo = new NotifiedReadMemo();
  private listenRetry: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly options: PostgresIndexOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      query_timeout: options.statementTimeoutMs ?? 60_000,
      statement_timeout: options.statementTimeoutMs ?? 60_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      types: PG_TYPES,
      application_name: 'shelf',
    });
    // An idle connection the server drops must not take the process with it; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** Connects, brings the schema up to date, and starts listening for security changes. */
  static async open(options: PostgresIndexOptions): Promise<PostgresIndex> {
    const index = new PostgresIndex(options);
    try {
      await index.migrate();
    } catch (err) {
      await index.pool.end();
      throw err;
    }
    index.listen();
    return index;
  }

  get schemaVersion(): Promise<number> {
    return this.query<{ version: number }>('SELECT COALESCE(MAX(version), 0) AS version FROM shelf_schema').then((rows) => rows[0]!.version);
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await db.query('CREATE TABLE IF NOT EXISTS shelf_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const { rows } = await db.query<{ version: number }>('SELECT COALESCE(MAX(version), 0) AS version FROM shelf_schema');
      for (let version = rows[0]!.version; version < POSTGRES_MIGRATIONS.length; version++) {
        await db.query(POSTGRES_MIGRATIONS[version]!);
        await db.query('INSERT INTO shelf_schema (version, applied_at) VALUES ($1, $2)', [version + 1, Date.now()]);
      }
    });
  }

  /** Keeps one connection listening for security changes; reconnects after it is lost. */
  private listen(): void {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.options.url, types: PG_TYPES, keepAlive: true, application_name: 'shelf-listener' });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.revision = undefined;
      this.memo.setListening(false);
      client.end().catch(() => undefined);
      this.listenRetry = setTimeout(() => this.listen(), 1000);
      this.listenRetry.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === 'shelf_records') return this.memo.changed();
      const revision = Number(message.payload);
      if (message.channel === 'shelf_security' && Number.isFinite(revision)) this.revision = Math.max(this.revision ?? 0, revision);
    });
    this.listener = client;
    client
      .connect()
      .then(() => client.query('LISTEN shelf_security; LISTEN shelf_records'))
      // Read after LISTEN: a change between the two is then both read and notified, never missed.
      .then(() => client.query<{ revision: number }>('SELECT revision FROM security_revision WHERE id = 1'))
      .then(({ rows }) => {
        if (this.listener !== client) return;
        this.revision = Math.max(this.revision ?? 0, rows[0]!.revision);
        this.memo.setListening(true);
      })
      .catch(lost);
  }

  private async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, params)).rows;
    } catch (err) {
      throw asIndexError(err);
    }
  }

  /** A statement that writes: what this process read before it is stale once it is done. */
  private async run(text: string, params: unknown[] = []): Promise<number> {
    try {
      return (await this.pool.query(text, params)).rowCount ?? 0;
    } catch (err) {
      throw asIndexError(err);
    } finally {
      this.memo.changed();
    }
  }

  /**
   * Runs `work` in one transaction on one connection; run again when PostgreSQL reports a deadlock or
   * conflict. What this process read before it is stale once it is done.
   */
  private async transaction<T>(work: (db: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.attempts(work);
    } finally {
      this.memo.changed();
    }
  }

  private async attempts<T>(work: (db: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw asIndexError(err);
      }
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
        const code = (err as { code?: string }).code;
        if (code && RETRIED_SQLSTATES.has(code) && attempt < TRANSACTION_ATTEMPTS) continue;
        throw asIndexError(err);
      } finally {
        client.release(broken);
      }
    }
  }

  /** A transaction-scoped lock on a name: what SQLite's single writer gave for free, for one key. */
  private static lock(db: Queryable, name: string): Promise<unknown> {
    return db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [name]);
  }

  async getArtifact(repo: string, path: string): Promise<ArtifactRecord | undefined> {
    // Each caller gets its own record; the memo keeps the row.
    const row = await this.memo.get(`${repo}\u0000${path}`, async () =>
      (await this.query<ArtifactRow>(`${SELECT_ARTIFACT} WHERE repo = $1 AND path = $2`, [repo, path]))[0],
    );
    return row && toRecord(row);
  }

  async putArtifact(artifact: NewArtifact, policy: OverwritePolicy, quotaBytes?: number): Promise<PutResult> {
    return this.transaction(async (db) => {
      await PostgresIndex.lock(db, `artifact\u0001${artifact.repo}\u0001${artifact.path}`);
      const { rows: [existing] } = await db.query<ArtifactRow>(`${SELECT_ARTIFACT} WHERE repo = $1 AND path = $2`, [artifact.repo, artifact.path]);
      if (existing && (policy === 'create-only' || (policy === 'same-content-only' && existing.sha256 !== artifact.blob.sha256))) {
        return { conflict: toRecord(existing) };
      }
      if (quotaBytes !== undefined) {
        // The usage row stays locked until commit: concurrent puts into this repository check the quota in turn.
        await db.query('INSERT INTO repo_usage (repo) VALUES ($1) ON CONFLICT (repo) DO NOTHING', [artifact.repo]);
        const { rows: [usage] } = await db.query<RepositoryUsage>(`${SELECT_USAGE} WHERE repo = $1 FOR UPDATE`, [artifact.repo]);
        if (usage!.bytes - (existing?.size ?? 0) + artifact.blob.size > quotaBytes) return { overQuota: usage! };
      }
      const now = Date.now();
      await PostgresIndex.insertBlob(db, artifact.blob, now);
      await db.query(
        `INSERT INTO artifacts (repo, path, sha256, content_type, created_at, modified_at,
           upstream_etag, upstream_last_modified, fetched_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9)
         ON CONFLICT (repo, path) DO UPDATE SET
           sha256 = excluded.sha256, content_type = excluded.content_type,
           modified_at = CASE WHEN artifacts.sha256 = excluded.sha256 THEN artifacts.modified_at ELSE excluded.modified_at END,
           upstream_etag = excluded.upstream_etag, upstream_last_modified = excluded.upstream_last_modified,
           fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
        [
          artifact.repo,
          artifact.path,
          artifact.blob.sha256,
          artifact.contentType,
          now,
          ...cacheColumns(artifact.cache),
        ],
      );
      await db.query('DELETE FROM negative_cache WHERE repo = $1 AND path = $2', [artifact.repo, artifact.path]);
      const { rows: [stored] } = await db.query<ArtifactRow>(`${SELECT_ARTIFACT} WHERE repo = $1 AND path = $2`, [artifact.repo, artifact.path]);
      return { stored: toRecord(stored!) };
    });
  }

  /** Digests still awaited are filled by a later write of the same content that has them. */
  private static insertBlob(db: Queryable, blob: StoredBlob, now: number): Promise<unknown> {
    return db.query(
      `INSERT INTO blobs (sha256, size, sha1, md5, sha512, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (sha256) DO UPDATE SET sha1 = excluded.sha1, md5 = excluded.md5, sha512 = excluded.sha512
         WHERE blobs.sha1 = '${AWAITED}' AND excluded.sha1 <> '${AWAITED}'`,
      [blob.sha256, blob.size, blob.sha1 ?? AWAITED, blob.md5 ?? AWAITED, blob.sha512 ?? AWAITED, now],
    );
  }

  async blobsAwaitingDigests(after: string, limit: number): Promise<string[]> {
    const rows = await this.query<{ sha256: string }>(
      `SELECT sha256 FROM blobs WHERE sha1 = '${AWAITED}' AND sha256 > $1 ORDER BY sha256 LIMIT $2`,
      [after, limit],
    );
    return rows.map((row) => row.sha256);
  }

  async setOtherDigests(sha256: string, digests: OtherDigests): Promise<void> {
    await this.run(`UPDATE blobs SET sha1 = $1, md5 = $2, sha512 = $3 WHERE sha256 = $4 AND sha1 = '${AWAITED}'`, [
      digests.sha1,
      digests.md5,
      digests.sha512,
      sha256,
    ]);
  }

  async deleteArtifact(repo: string, path: string, unchangedSince?: number): Promise<boolean> {
    return this.transaction(async (db) => {
      const { rowCount } = await db.query('DELETE FROM artifacts WHERE repo = $1 AND path = $2 AND modified_at <= $3', [
        repo,
        path,
        unchangedSince ?? Number.MAX_SAFE_INTEGER,
      ]);
      if (!rowCount) return false;
      await db.query('DELETE FROM properties WHERE repo = $1 AND path = $2', [repo, path]);
      return true;
    });
  }

  async renewArtifact(repo: string, path: string): Promise<void> {
    await this.run('UPDATE artifacts SET modified_at = GREATEST(modified_at, $1) WHERE repo = $2 AND path = $3', [Date.now(), repo, path]);
  }

  async listArtifacts(repo: string, options: ListOptions = {}): Promise<ArtifactRecord[]> {
    const rows = await this.query<ArtifactRow>(
      `${SELECT_ARTIFACT} WHERE repo = $1 AND path LIKE $2 AND strpos(path, $3) > 0 AND path > $4 ORDER BY path LIMIT $5`,
      [repo, likePrefix(options.prefix ?? ''), options.contains ?? '', options.after ?? '', options.limit ?? null],
    );
    return rows.map(toRecord);
  }

  async listPaths(repo: string, after: string, limit: number): Promise<string[]> {
    const rows = await this.query<{ path: string }>('SELECT path FROM artifacts WHERE repo = $1 AND path > $2 ORDER BY path LIMIT $3', [repo, after, limit]);
    return rows.map((row) => row.path);
  }

  async listChildren(repo: string, prefix: string, limit: number, from = prefix): Promise<FolderChild[]> {
    return skipScan(prefix, limit, from, async (cursor) => {
      // PostgreSQL text holds no NUL: "at or past `path\0`" is "after `path`".
      const after = cursor.endsWith('\0');
      const [row] = await this.query<ScannedPath>(
        `SELECT a.path, a.modified_at, b.size FROM artifacts a JOIN blobs b USING (sha256)
         WHERE a.repo = $1 AND a.path ${after ? '>' : '>='} $2 ORDER BY a.path LIMIT 1`,
        [repo, after ? cursor.slice(0, -1) : cursor],
      );
      return row;
    });
  }

  async findByProperties(repo: string, query: PropertyQuery, limit: number, after = ''): Promise<ArtifactRecord[]> {
    if (query.length === 0) return [];
    // The files carrying the first pair come from the property index; the other pairs are checked on each.
    const params: unknown[] = [repo, after, limit];
    const pair = ([key, value]: PropertyQuery[number]) => {
      params.push(key, value);
      return `p.key = $${params.length - 1} AND ($${params.length}::text = '' OR p.value = $${params.length})`;
    };
    const conditions = query.map(
      (p) => `EXISTS (SELECT 1 FROM properties p WHERE p.repo = a.repo AND p.path = a.path AND ${pair(p)})`,
    );
    const rows = await this.query<ArtifactRow>(
      `${SELECT_ARTIFACT} WHERE a.repo = $1 AND a.path > $2 AND ${conditions.join(' AND ')} ORDER BY a.path LIMIT $3`,
      params,
    );
    return rows.map(toRecord);
  }

  async updateCacheState(repo: string, path: string, state: CacheState): Promise<void> {
    await this.run(
      `UPDATE artifacts SET fetched_at = $1, expires_at = $2,
         upstream_etag = COALESCE($3, upstream_etag), upstream_last_modified = COALESCE($4, upstream_last_modified)
       WHERE repo = $5 AND path = $6`,
      [state.fetchedAt, state.expiresAt, state.upstreamEtag ?? null, state.upstreamLastModified ?? null, repo, path],
    );
  }

  async recordDownloads(tallies: DownloadTally[], cache: CacheTally[]): Promise<void> {
    // Only the counted rows are stale here, and elsewhere nothing is announced (see NotifiedReadMemo).
    await this.attempts(async (db) => {
      if (tallies.length > 0) {
        await db.query(
          `UPDATE artifacts a SET download_count = a.download_count + t.count, downloaded_at = GREATEST(COALESCE(a.downloaded_at, 0), t.last_at)
           FROM (SELECT repo, path, SUM(count) AS count, MAX(last_at) AS last_at
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u (repo, path, count, last_at) GROUP BY repo, path) t
           WHERE a.repo = t.repo AND a.path = t.path`,
          [tallies.map((t) => t.repo), tallies.map((t) => t.path), tallies.map((t) => t.count), tallies.map((t) => t.lastAt)],
        );
      }
      if (cache.length > 0) {
        await db.query(
          `INSERT INTO repo_usage AS u (repo, cache_hits, cache_misses)
           SELECT repo, SUM(hits), SUM(misses) FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS c (repo, hits, misses) GROUP BY repo
           ON CONFLICT (repo) DO UPDATE SET cache_hits = u.cache_hits + excluded.cache_hits, cache_misses = u.cache_misses + excluded.cache_misses`,
          [cache.map((c) => c.repo), cache.map((c) => c.hits), cache.map((c) => c.misses)],
        );
      }
    });
    for (const tally of tallies) this.memo.forget(`${tally.repo}\u0000${tally.path}`);
  }

  async getProperties(repo: string, path: string): Promise<Properties> {
    const rows = await this.query<{ key: string; value: string }>(
      'SELECT key, value FROM properties WHERE repo = $1 AND path = $2 ORDER BY key, value',
      [repo, path],
    );
    const properties: Properties = {};
    for (const { key, value } of rows) (properties[key] ??= []).push(value);
    return properties;
  }

  async setProperties(repo: string, path: string, properties: Properties): Promise<void> {
    const entries = Object.entries(properties);
    await this.transaction(async (db) => {
      await db.query('DELETE FROM properties WHERE repo = $1 AND path = $2 AND key = ANY($3::text[])', [repo, path, entries.map(([key]) => key)]);
      const pairs = entries.flatMap(([key, values]) => values.map((value) => [key, value] as const));
      await db.query(
        `INSERT INTO properties (repo, path, key, value) SELECT $1, $2, k, v FROM unnest($3::text[], $4::text[]) AS p (k, v)
         ON CONFLICT DO NOTHING`,
        [repo, path, pairs.map(([key]) => key), pairs.map(([, value]) => value)],
      );
    });
  }

  async deleteProperties(repo: string, path: string, keys: string[]): Promise<void> {
    await this.run('DELETE FROM properties WHERE repo = $1 AND path = $2 AND key = ANY($3::text[])', [repo, path, keys]);
  }

  async findByChecksum(query: ChecksumQuery): Promise<ArtifactRecord[]> {
    const [column, value] = Object.entries(query)[0] as [string, string];
    const rows = await this.query<ArtifactRow>(`${SELECT_ARTIFACT} WHERE b.${column} = $1 ORDER BY repo, path`, [value.toLowerCase()]);
    return rows.map(toRecord);
  }

  async getUpstreamOutage(repo: string): Promise<UpstreamOutage | undefined> {
    const [row] = await this.query<UpstreamOutage>('SELECT until, reason FROM upstream_outages WHERE repo = $1', [repo]);
    return row;
  }

  async setUpstreamOutage(repo: string, outage: UpstreamOutage | undefined): Promise<void> {
    if (outage) {
      await this.run(
        'INSERT INTO upstream_outages (repo, until, reason) VALUES ($1, $2, $3) ON CONFLICT (repo) DO UPDATE SET until = excluded.until, reason = excluded.reason',
        [repo, outage.until, outage.reason],
      );
    } else {
      await this.run('DELETE FROM upstream_outages WHERE repo = $1', [repo]);
    }
  }

  async getUpstreamBudget(repo: string): Promise<SharedBudget | undefined> {
    const [row] = await this.query<BudgetRow>(`${SELECT_BUDGET} WHERE repo = $1`, [repo]);
    return row && toBudget(row);
  }

  async setUpstreamBudget(repo: string, budget: SharedBudget): Promise<void> {
    const { limit, remaining, blockedUntil, observedAt } = budgetParams(repo, budget);
    await this.run(
      `INSERT INTO upstream_budgets AS b (repo, rate_limit, remaining, blocked_until, observed_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (repo) DO UPDATE SET
         rate_limit = CASE WHEN excluded.observed_at >= b.observed_at THEN COALESCE(excluded.rate_limit, b.rate_limit) ELSE b.rate_limit END,
         remaining = CASE WHEN excluded.observed_at >= b.observed_at THEN COALESCE(excluded.remaining, b.remaining) ELSE b.remaining END,
         blocked_until = GREATEST(COALESCE(b.blocked_until, 0), COALESCE(excluded.blocked_until, 0)),
         observed_at = GREATEST(b.observed_at, excluded.observed_at)`,
      [repo, limit, remaining, blockedUntil, observedAt],
    );
  }

  async putNegative(repo: string, path: string, expiresAt: number): Promise<void> {
    await this.run(
      'INSERT INTO negative_cache (repo, path, expires_at) VALUES ($1, $2, $3) ON CONFLICT (repo, path) DO UPDATE SET expires_at = excluded.expires_at',
      [repo, path, expiresAt],
    );
  }

  async getNegative(repo: string, path: string): Promise<number | undefined> {
    const [row] = await this.query<{ expires_at: number }>('SELECT expires_at FROM negative_cache WHERE repo = $1 AND path = $2', [repo, path]);
    return row?.expires_at;
  }

  async clearNegative(repo: string, path: string): Promise<void> {
    await this.run('DELETE FROM negative_cache WHERE repo = $1 AND path = $2', [repo, path]);
  }

  async listBlobDigests(after: string, limit: number): Promise<string[]> {
    const rows = await this.query<{ sha256: string }>('SELECT DISTINCT sha256 FROM artifacts WHERE sha256 > $1 ORDER BY sha256 LIMIT $2', [after, limit]);
    return rows.map((row) => row.sha256);
  }

  async blobDigestsWithPrefix(prefix: string): Promise<string[]> {
    const rows = await this.query<{ sha256: string }>('SELECT DISTINCT sha256 FROM artifacts WHERE sha256 >= $1 AND sha256 < $2', [prefix, `${prefix}g`]);
    return rows.map((row) => row.sha256);
  }

  async blobReferences(sha256: string): Promise<number> {
    return (await this.query<{ n: number }>('SELECT COUNT(*) AS n FROM artifacts WHERE sha256 = $1', [sha256]))[0]!.n;
  }

  async forgetUnreferencedBlobs(prefix: string): Promise<number> {
    try {
      return await this.run(
        `DELETE FROM blobs WHERE sha256 >= $1 AND sha256 < $2
           AND sha256 NOT IN (SELECT sha256 FROM artifacts WHERE sha256 >= $1 AND sha256 < $2)`,
        [prefix, `${prefix}g`],
      );
    } catch (err) {
      // Another node stored a file of one of these blobs meanwhile: nothing is forgotten now, the next run will.
      if ((err as { code?: string }).code === '23503') return 0;
      throw err;
    }
  }

  async usageOf(repo: string): Promise<RepositoryUsage> {
    const [row] = await this.query<RepositoryUsage>(`${SELECT_USAGE} WHERE repo = $1`, [repo]);
    return row ?? { repo, files: 0, bytes: 0, cacheHits: 0, cacheMisses: 0 };
  }

  async repositoryUsage(): Promise<RepositoryUsage[]> {
    return this.query<RepositoryUsage>(`${SELECT_USAGE} ORDER BY repo`);
  }

  async leastRecentlyUsed(repos: string[], limit: number): Promise<ArtifactRecord[]> {
    const rows = await this.query<ArtifactRow>(
      `${SELECT_ARTIFACT} WHERE repo = ANY($1::text[]) ORDER BY COALESCE(downloaded_at, a.created_at) LIMIT $2`,
      [repos, limit],
    );
    return rows.map(toRecord);
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    return (
      (await this.run(
        `INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $4`,
        [name, holder, now + ttlMs, now],
      )) > 0
    );
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.run('DELETE FROM job_leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async leaseHolder(name: string): Promise<string | undefined> {
    return (await this.query<{ holder: string }>('SELECT holder FROM job_leases WHERE name = $1', [name]))[0]?.holder;
  }

  async takeOverLease(name: string, from: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run('UPDATE job_leases SET holder = $1, expires_at = $2 WHERE name = $3 AND holder = $4', [holder, Date.now() + ttlMs, name, from])) > 0;
  }

  async claimFetch(name: string, holder: string, ttlMs: number): Promise<FetchClaim> {
    const now = Date.now();
    const claimed = await this.run(
      `INSERT INTO fetch_claims (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, head = NULL, end_event = NULL
       WHERE fetch_claims.expires_at <= $4 OR fetch_claims.end_event IS NOT NULL`,
      [name, holder, now + ttlMs, now],
    );
    if (claimed > 0) return { claimed: true };
    const [row] = await this.query<ClaimRow>(`${SELECT_CLAIM} WHERE name = $1`, [name]);
    return otherClaim(row);
  }

  async fetchClaim(name: string) {
    const [row] = await this.query<ClaimRow>(`${SELECT_CLAIM} WHERE name = $1`, [name]);
    return row && toClaim(row, Date.now());
  }

  async renewFetch(name: string, holder: string, ttlMs: number): Promise<void> {
    await this.run('UPDATE fetch_claims SET expires_at = $1 WHERE name = $2 AND holder = $3 AND end_event IS NULL', [Date.now() + ttlMs, name, holder]);
  }

  async announceFetch(name: string, holder: string, head: string | undefined, end: string | undefined, keepMs: number): Promise<void> {
    await this.run(
      `UPDATE fetch_claims SET head = COALESCE($1, head), end_event = $2, expires_at = CASE WHEN $2::text IS NULL THEN expires_at ELSE $3 END
       WHERE name = $4 AND holder = $5`,
      [head ?? null, end ?? null, Date.now() + keepMs, name, holder],
    );
  }

  async forgetFetches(before: number): Promise<void> {
    await this.run('DELETE FROM fetch_claims WHERE expires_at < $1', [before]);
  }

  async storageBytes(): Promise<number> {
    return (await this.query<{ bytes: number }>('SELECT COALESCE(SUM(size), 0)::bigint AS bytes FROM blobs WHERE sha256 IN (SELECT sha256 FROM artifacts)'))[0]!
      .bytes;
  }

  async importedBundles(): Promise<ImportedBundle[]> {
    return this.query<ImportedBundle>(
      `SELECT id, predecessor, created_at AS "createdAt", imported_at AS "importedAt", key_id AS "keyId", source, records, bytes
       FROM imported_bundles ORDER BY imported_at`,
    );
  }

  async replicationStates(): Promise<ReplicationState[]> {
    return (await this.query<ReplicationRow>('SELECT * FROM replication_state ORDER BY name')).map(toReplicationState);
  }

  async recordReplicationRun(name: string, run: ReplicationRun): Promise<void> {
    await this.run(
      `INSERT INTO replication_state AS s (name, last_bundle, last_bundle_created_at, last_run_at, last_success_at, last_error, runs, records, bytes)
       VALUES ($1, $2, $3, $4, CASE WHEN $5::text IS NULL THEN $4::bigint END, $5, 1, $6, $7)
       ON CONFLICT (name) DO UPDATE SET
         last_bundle = COALESCE($2, s.last_bundle), last_bundle_created_at = COALESCE($3, s.last_bundle_created_at),
         last_run_at = $4, last_success_at = CASE WHEN $5::text IS NULL THEN $4::bigint ELSE s.last_success_at END, last_error = $5,
         runs = s.runs + 1, records = s.records + $6, bytes = s.bytes + $7`,
      [name, run.bundle?.id ?? null, run.bundle?.createdAt ?? null, run.at, run.error ?? null, run.records, run.bytes],
    );
  }

  async applyBundle(bundle: BundleApplied, artifacts: BundledArtifact[]): Promise<void> {
    await this.transaction(async (db) => {
      const now = Date.now();
      for (const artifact of artifacts) {
        await PostgresIndex.insertBlob(db, artifact.blob, now);
        await db.query(
          `INSERT INTO artifacts (repo, path, sha256, content_type, created_at, modified_at,
             upstream_etag, upstream_last_modified, fetched_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (repo, path) DO UPDATE SET
             sha256 = excluded.sha256, content_type = excluded.content_type, modified_at = excluded.modified_at,
             upstream_etag = excluded.upstream_etag, upstream_last_modified = excluded.upstream_last_modified,
             fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
          [
            artifact.repo,
            artifact.path,
            artifact.blob.sha256,
            artifact.contentType,
            artifact.createdAt,
            artifact.modifiedAt,
            ...cacheColumns(artifact.cache),
          ],
        );
        await db.query('DELETE FROM negative_cache WHERE repo = $1 AND path = $2', [artifact.repo, artifact.path]);
      }
      await db.query(
        `INSERT INTO imported_bundles (id, predecessor, created_at, imported_at, key_id, source, records, bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [bundle.id, bundle.predecessor, bundle.createdAt, now, bundle.keyId, bundle.source, artifacts.length, bundle.bytes],
      );
    });
  }

  async heartbeat(node: NodeRecord): Promise<void> {
    await this.run(
      `INSERT INTO nodes (id, host, url, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET host = excluded.host, url = excluded.url, version = excluded.version,
         started_at = excluded.started_at, heartbeat_at = GREATEST(nodes.heartbeat_at, excluded.heartbeat_at)`,
      [node.id, node.host, node.url, node.version, node.startedAt, node.heartbeatAt],
    );
  }

  async listNodes(since: number): Promise<NodeRecord[]> {
    return this.query<NodeRecord>(
      `SELECT id, host, url, version, started_at AS "startedAt", heartbeat_at AS "heartbeatAt" FROM nodes WHERE heartbeat_at >= $1 ORDER BY id`,
      [since],
    );
  }

  async ping(): Promise<void> {
    await this.run('INSERT INTO readiness_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at', [Date.now()]);
  }

  /** A consistent copy in a SQLite file while nodes read and write (see index-copy.ts). */
  async snapshot(file: string): Promise<void> {
    await copyPostgresToSqlite(this.pool, file);
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const [row] = await this.query<UserRow>('SELECT * FROM users WHERE name = $1', [name]);
    return row && toUser(row);
  }

  async putUser(user: UserRecord): Promise<void> {
    await this.securityChange(() =>
      this.run(
        `INSERT INTO users (name, password_hash, email, admin, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, email = excluded.email,
           admin = excluded.admin, disabled = excluded.disabled`,
        [user.name, user.passwordHash, user.email ?? null, user.admin ? 1 : 0, user.disabled ? 1 : 0, user.createdAt],
      ),
    );
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.query<UserRow>('SELECT * FROM users ORDER BY name')).map(toUser);
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.run(
      `INSERT INTO tokens (id, hash, username, description, created_at, expires_at, last_used_at, revoked_at, scope)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        token.id,
        token.hash,
        token.username,
        token.description,
        token.createdAt,
        token.expiresAt,
        token.lastUsedAt,
        token.revokedAt,
        token.scope ? JSON.stringify(token.scope) : null,
      ],
    );
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const [row] = await this.query<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [hash]);
    return row && toToken(row);
  }

  async touchToken(id: string, at: number): Promise<void> {
    await this.run('UPDATE tokens SET last_used_at = $1 WHERE id = $2', [at, id]);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    return (await this.securityChange(() => this.run('UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]))) > 0;
  }

  async listTokens(username?: string): Promise<TokenRecord[]> {
    const rows =
      username === undefined
        ? await this.query<TokenRow>('SELECT * FROM tokens ORDER BY created_at')
        : await this.query<TokenRow>('SELECT * FROM tokens WHERE username = $1 ORDER BY created_at', [username]);
    return rows.map(toToken);
  }

  async putSession(session: SessionRecord): Promise<void> {
    await this.transaction(async (db) => {
      await db.query('DELETE FROM ui_sessions WHERE expires_at <= $1', [session.createdAt]);
      await db.query('INSERT INTO ui_sessions (hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
        session.hash,
        session.username,
        session.createdAt,
        session.expiresAt,
      ]);
    });
  }

  async findSession(hash: string, at: number): Promise<string | undefined> {
    return (await this.query<{ username: string }>('SELECT username FROM ui_sessions WHERE hash = $1 AND expires_at > $2', [hash, at]))[0]?.username;
  }

  async deleteSession(hash: string): Promise<void> {
    await this.run('DELETE FROM ui_sessions WHERE hash = $1', [hash]);
  }

  async deleteSessionsOf(username: string): Promise<void> {
    await this.run('DELETE FROM ui_sessions WHERE username = $1', [username]);
  }

  async deleteUser(name: string): Promise<boolean> {
    return (await this.securityChange(() => this.run('DELETE FROM users WHERE name = $1', [name]))) > 0;
  }

  async putGroup(group: GroupRecord): Promise<void> {
    await this.securityChange(() =>
      this.transaction(async (db) => {
        await db.query('INSERT INTO groups (name, description) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET description = excluded.description', [
          group.name,
          group.description,
        ]);
        await db.query('DELETE FROM group_members WHERE group_name = $1', [group.name]);
        await db.query('INSERT INTO group_members (group_name, username) SELECT $1, unnest($2::text[])', [group.name, [...new Set(group.members)]]);
      }),
    );
  }

  async deleteGroup(name: string): Promise<boolean> {
    return (await this.securityChange(() => this.run('DELETE FROM groups WHERE name = $1', [name]))) > 0;
  }

  async listGroups(): Promise<GroupRecord[]> {
    return this.query<GroupRecord>(
      `SELECT g.name, g.description, COALESCE(array_agg(m.username ORDER BY m.username) FILTER (WHERE m.username IS NOT NULL), '{}') AS members
       FROM groups g LEFT JOIN group_members m ON m.group_name = g.name GROUP BY g.name, g.description ORDER BY g.name`,
    );
  }

  async groupsOf(username: string): Promise<string[]> {
    const rows = await this.query<{ group_name: string }>('SELECT group_name FROM group_members WHERE username = $1 ORDER BY group_name', [username]);
    return rows.map((row) => row.group_name);
  }

  async putPermissionTarget(target: PermissionTarget): Promise<void> {
    await this.securityChange(() =>
      this.run('INSERT INTO permission_targets (name, definition) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition', [
        target.name,
        JSON.stringify(target),
      ]),
    );
  }

  async deletePermissionTarget(name: string): Promise<boolean> {
    return (await this.securityChange(() => this.run('DELETE FROM permission_targets WHERE name = $1', [name]))) > 0;
  }

  async listPermissionTargets(): Promise<PermissionTarget[]> {
    const rows = await this.query<{ definition: string }>('SELECT definition FROM permission_targets ORDER BY name');
    return rows.map((row) => JSON.parse(row.definition) as PermissionTarget);
  }

  /**
   * A change this process made is seen by its next request at once: the notification of it arrives a moment
   * later, so until then the revision is read from the table.
   */
  private async securityChange<T>(change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      this.revision = undefined;
      if (this.listener) void this.refreshRevision();
    }
  }

  private async refreshRevision(): Promise<void> {
    const listener = this.listener;
    const [row] = await this.query<{ revision: number }>('SELECT revision FROM security_revision WHERE id = 1').catch(() => []);
    if (row && this.listener === listener && listener) this.revision = Math.max(this.revision ?? 0, row.revision);
  }

  async securityRevision(): Promise<number> {
    if (this.revision !== undefined) return this.revision;
    return (await this.query<{ revision: number }>('SELECT revision FROM security_revision WHERE id = 1'))[0]!.revision;
  }

  async takeLoginAttempt(keys: LoginThrottleKey[], at: number, windowMs: number, maxDelayMs: number): Promise<{ retryAt?: number }> {
    return this.transaction(async (db) => {
      // In key order, so that two attempts sharing keys cannot wait for each other.
      for (const { key } of [...keys].sort((a, b) => (a.key < b.key ? -1 : 1))) await PostgresIndex.lock(db, `login\u0001${key}`);
      let retryAt: number | undefined;
      for (const { key, free } of keys) {
        const { rows: [row] } = await db.query<{ count: number; last_at: number }>(
          'SELECT count, last_at FROM login_failures WHERE key = $1 AND last_at > $2',
          [key, at - windowMs],
        );
        if (!row || row.count < free) continue;
        const allowedAt = row.last_at + Math.min(1000 * 2 ** (row.count - free), maxDelayMs);
        if (allowedAt > at) retryAt = Math.max(retryAt ?? 0, allowedAt);
      }
      if (retryAt !== undefined) return { retryAt };
      for (const { key } of keys) {
        await db.query(
          `INSERT INTO login_failures AS f (key, count, first_at, last_at) VALUES ($1, 1, $2, $2)
           ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN f.last_at <= $2::bigint - $3::bigint THEN 1 ELSE f.count + 1 END,
             first_at = CASE WHEN f.last_at <= $2::bigint - $3::bigint THEN $2 ELSE f.first_at END,
             last_at = $2`,
          [key, at, windowMs],
        );
      }
      return {};
    });
  }

  async settleLoginAttempt(keys: { key: string; clear: boolean }[], succeeded: boolean, at: number): Promise<void> {
    await this.transaction(async (db) => {
      for (const { key, clear } of keys) {
        if (!succeeded) await db.query('UPDATE login_failures SET last_at = GREATEST(last_at, $1) WHERE key = $2', [at, key]);
        else if (clear) await db.query('DELETE FROM login_failures WHERE key = $1', [key]);
        else await db.query('UPDATE login_failures SET count = GREATEST(count - 1, 0) WHERE key = $1', [key]);
      }
    });
  }

  async recordTraffic(minutes: TrafficMinute[], forgetBefore: number): Promise<void> {
    await this.transaction(async (db) => {
      await db.query(
        `INSERT INTO traffic_minutes AS t (minute, requests, errors, cache_hits, cache_misses)
         SELECT minute, SUM(requests), SUM(errors), SUM(hits), SUM(misses)
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS m (minute, requests, errors, hits, misses)
         GROUP BY minute
         ON CONFLICT (minute) DO UPDATE SET requests = t.requests + excluded.requests, errors = t.errors + excluded.errors,
           cache_hits = t.cache_hits + excluded.cache_hits, cache_misses = t.cache_misses + excluded.cache_misses`,
        [
          minutes.map((m) => m.minute),
          minutes.map((m) => m.requests),
          minutes.map((m) => m.errors),
          minutes.map((m) => m.cacheHits),
          minutes.map((m) => m.cacheMisses),
        ],
      );
      await db.query('DELETE FROM traffic_minutes WHERE minute < $1', [forgetBefore]);
    });
  }

  async traffic(since: number): Promise<TrafficMinute[]> {
    return this.query<TrafficMinute>(
      `SELECT minute, requests, errors, cache_hits AS "cacheHits", cache_misses AS "cacheMisses" FROM traffic_minutes WHERE minute >= $1 ORDER BY minute`,
      [since],
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.listenRetry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
