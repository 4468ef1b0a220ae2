import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StoredBlob } from './blob-store.js';
import type { OtherDigests } from './checksums.js';
import { SqliteReadMemo } from './sqlite-read-memo.js';
import { AWAITED, budgetParams, otherClaim, toReplicationState, type ReplicationRow, SELECT_CLAIM, toClaim, type ClaimRow, likePrefix, SELECT_BUDGET, toBudget, type BudgetRow, SELECT_ARTIFACT, SELECT_USAGE, skipScan, toRecord, toToken, toUser, type ArtifactRow, type ScannedPath, type TokenRow, type UserRow } from './index-rows.js';
import type {
  ArtifactRecord,
  BundleApplied,
  BundledArtifact,
  ImportedBundle,
  ReplicationRun,
  ReplicationState,
  CacheState,
  CacheTally,
  ChecksumQuery,
  DownloadTally,
  FolderChild,
  TrafficMinute,
  ListOptions,
  MetadataIndex,
  FetchClaim,
  NodeRecord,
  PropertyQuery,
  NewArtifact,
  OverwritePolicy,
  Properties,
  PutResult,
  RepositoryUsage,
  UpstreamOutage,
} from './metadata-index.js';
import type { GroupRecord, IdentityStore, LoginThrottleKey, SessionRecord, TokenRecord, UserRecord } from './identity-store.js';
import type { PermissionTarget } from '../security/permissions.js';
import type { SharedBudget } from '../upstream/rate-limit.js';

/** Versioned schema steps; each runs once, in order, inside a transaction. Append only. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE blobs (
     sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,
     sha1 TEXT NOT NULL, md5 TEXT NOT NULL, sha512 TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE INDEX blobs_sha1 ON blobs(sha1);
   CREATE INDEX blobs_md5 ON blobs(md5);
   CREATE TABLE artifacts (
     repo TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL REFERENCES blobs(sha256),
     content_type TEXT NOT NULL, created_at INTEGER NOT NULL, modified_at INTEGER NOT NULL,
     downloaded_at INTEGER, download_count INTEGER NOT NULL DEFAULT 0,
     upstream_etag TEXT, upstream_last_modified TEXT, fetched_at INTEGER, expires_at INTEGER,
     PRIMARY KEY (repo, path)) WITHOUT ROWID;
   CREATE INDEX artifacts_sha256 ON artifacts(sha256);
   CREATE TABLE properties (
     repo TEXT NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
     PRIMARY KEY (repo, path, key, value)) WITHOUT ROWID;
   CREATE TABLE negative_cache (
     repo TEXT NOT NULL, path TEXT NOT NULL, expires_at INTEGER NOT NULL,
     PRIMARY KEY (repo, path)) WITHOUT ROWID;
   CREATE TABLE readiness_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);`,
  `CREATE TABLE users (
     name TEXT PRIMARY KEY, password_hash TEXT, email TEXT, admin INTEGER NOT NULL, disabled INTEGER NOT NULL,
     created_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE tokens (
     id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
     description TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, last_used_at INTEGER, revoked_at INTEGER);
   CREATE INDEX tokens_username ON tokens(username);`,
  `ALTER TABLE tokens ADD COLUMN scope TEXT;
   CREATE TABLE groups (name TEXT PRIMARY KEY, description TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE group_members (
     group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
     username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
     PRIMARY KEY (group_name, username)) WITHOUT ROWID;
   CREATE INDEX group_members_username ON group_members(username);
   CREATE TABLE permission_targets (name TEXT PRIMARY KEY, definition TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE login_failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE security_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
   INSERT INTO security_revision VALUES (1, 0);
   ${['users', 'groups', 'group_members', 'permission_targets']
     .flatMap((table) =>
       ['INSERT', 'UPDATE', 'DELETE'].map(
         (event) => `CREATE TRIGGER ${table}_${event.toLowerCase()}_revision AFTER ${event} ON ${table}
           BEGIN UPDATE security_revision SET revision = revision + 1; END;`,
       ),
     )
     .join('\n')}
   CREATE TRIGGER tokens_validity_revision AFTER UPDATE OF revoked_at, expires_at ON tokens
     BEGIN UPDATE security_revision SET revision = revision + 1; END;
   CREATE TRIGGER tokens_delete_revision AFTER DELETE ON tokens
     BEGIN UPDATE security_revision SET revision = revision + 1; END;`,
  // Login throttling backs off from the last attempt instead of locking out for a window.
  `DELETE FROM login_failures;
   ALTER TABLE login_failures ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0;`,
  // Whether an upstream is assumed offline is shared by every worker.
  `CREATE TABLE upstream_outages (repo TEXT PRIMARY KEY, until INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;`,
  // Lifecycle: who runs a cluster-wide job now, what each repository holds (kept by triggers, for quotas,
  // eviction and the storage summary), and the last use of each file in an order eviction can walk.
  `CREATE TABLE job_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE repo_usage (repo TEXT PRIMARY KEY, files INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
     cache_hits INTEGER NOT NULL DEFAULT 0, cache_misses INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
   INSERT INTO repo_usage (repo, files, bytes)
     SELECT a.repo, COUNT(*), SUM(b.size) FROM artifacts a JOIN blobs b USING (sha256) GROUP BY a.repo;
   CREATE TRIGGER artifacts_usage_insert AFTER INSERT ON artifacts BEGIN
     INSERT OR IGNORE INTO repo_usage (repo) VALUES (NEW.repo);
     UPDATE repo_usage SET files = files + 1, bytes = bytes + (SELECT size FROM blobs WHERE sha256 = NEW.sha256)
       WHERE repo = NEW.repo;
   END;
   CREATE TRIGGER artifacts_usage_delete AFTER DELETE ON artifacts BEGIN
     UPDATE repo_usage SET files = files - 1, bytes = bytes - (SELECT size FROM blobs WHERE sha256 = OLD.sha256)
       WHERE repo = OLD.repo;
   END;
   CREATE TRIGGER artifacts_usage_update AFTER UPDATE OF sha256 ON artifacts WHEN OLD.sha256 <> NEW.sha256 BEGIN
     UPDATE repo_usage SET bytes = bytes - (SELECT size FROM blobs WHERE sha256 = OLD.sha256)
       + (SELECT size FROM blobs WHERE sha256 = NEW.sha256) WHERE repo = NEW.repo;
   END;
   CREATE INDEX artifacts_last_use ON artifacts (repo, COALESCE(downloaded_at, created_at));`,
  // Air-gap: the bundles imported here, so that a bundle is applied once and incremental ones in order.
  `CREATE TABLE imported_bundles (id TEXT PRIMARY KEY, predecessor TEXT, created_at INTEGER NOT NULL, imported_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // Where imported content came from (what an edge shows), and each replication's progress.
  `ALTER TABLE imported_bundles ADD COLUMN key_id TEXT;
   ALTER TABLE imported_bundles ADD COLUMN source TEXT;
   ALTER TABLE imported_bundles ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE imported_bundles ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE replication_state (name TEXT PRIMARY KEY, last_bundle TEXT, last_bundle_created_at INTEGER,
     last_run_at INTEGER, last_success_at INTEGER, last_error TEXT,
     runs INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;`,
  // The web UI: property search, and sign-in sessions (kept apart from API tokens, which users manage).
  `CREATE INDEX properties_key_value ON properties (key, value, repo, path);
   CREATE TABLE ui_sessions (hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
     created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
   CREATE INDEX ui_sessions_username ON ui_sessions (username);
   CREATE TABLE traffic_minutes (minute INTEGER PRIMARY KEY, requests INTEGER NOT NULL, errors INTEGER NOT NULL,
     cache_hits INTEGER NOT NULL, cache_misses INTEGER NOT NULL);`,
  // The nodes serving from this index: one, with SQLite; several with a shared PostgreSQL index.
  `CREATE TABLE nodes (id TEXT PRIMARY KEY, host TEXT NOT NULL, url TEXT NOT NULL, version TEXT NOT NULL,
     started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // An upstream's rate-limit budget is shared by every process (and, on PostgreSQL, every node).
  `CREATE TABLE upstream_budgets (repo TEXT PRIMARY KEY, rate_limit INTEGER, remaining INTEGER, blocked_until INTEGER,
     observed_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // Which node fetches a path from an upstream, and what it has announced of that fetch.
  `CREATE TABLE fetch_claims (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL, head TEXT, end_event TEXT) WITHOUT ROWID;
   CREATE INDEX fetch_claims_expiry ON fetch_claims (expires_at);`,
];

/**
 * The embedded index: one SQLite file in WAL mode, which several processes (the cluster's workers)
 * may read and write at once; writers wait for each other through busy_timeout.
 */
export class SqliteIndex implements MetadataIndex, IdentityStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly memo: SqliteReadMemo;

  /**
   * `readOnly` opens a copy (a backup) to read as it is: no schema migration, no change to the file.
   */
  constructor(file: string, options: { readOnly?: boolean } = {}) {
    this.db = options.readOnly ? new Database(file, { readonly: true, fileMustExist: true }) : new Database(file);
    // Before anything prepares a statement: sql() hands every writing statement to it.
    this.memo = new SqliteReadMemo(this.db);
    if (options.readOnly) return;
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('foreign_keys = ON');
    this.migrate(file);
  }

  /**
   * Prepares each SQL text once: preparing costs more than running a point lookup. Every statement that
   * writes tells the read memo first (all writes after start-up go through here).
   */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      if (!statement.reader) {
        const run = statement.run;
        const memo = this.memo;
        statement.run = function (this: Database.Statement, ...params: unknown[]) {
          memo.writing();
          return run.apply(this, params);
        };
      }
      this.statements.set(text, statement);
    }
    return statement;
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /**
   * Brings the schema up to date. An existing index is first copied beside it (`backups/`), so that what
   * an upgrade's migrations changed can be undone by restoring that copy with the previous version.
   */
  private migrate(file: string): void {
    const from = this.schemaVersion;
    if (from > 0 && from < MIGRATIONS.length) {
      const copy = join(dirname(file), 'backups', `index-schema-${from}-before-${MIGRATIONS.length}-${Date.now()}-${process.pid}.sqlite`);
      mkdirSync(dirname(copy), { recursive: true });
      this.copyTo(copy);
    }
    const step = this.db.transaction((version: number) => {
      // Re-read inside the write lock: another process may have migrated meanwhile.
      if (this.schemaVersion !== version) return;
      this.db.exec(MIGRATIONS[version]!);
      this.db.pragma(`user_version = ${version + 1}`);
    });
    while (this.schemaVersion < MIGRATIONS.length) step.immediate(this.schemaVersion);
  }

  async getArtifact(repo: string, path: string): Promise<ArtifactRecord | undefined> {
    // Each caller gets its own record; the memo keeps the row.
    const row = this.memo.get(`artifact\u0000${repo}\u0000${path}`, () =>
      this.sql(`${SELECT_ARTIFACT} WHERE repo = ? AND path = ?`).get(repo, path),
    ) as ArtifactRow | undefined;
    return row && toRecord(row);
  }

  async putArtifact(artifact: NewArtifact, policy: OverwritePolicy, quotaBytes?: number): Promise<PutResult> {
    const put = this.db.transaction((): PutResult => {
      const existing = this.sql(`${SELECT_ARTIFACT} WHERE repo = ? AND path = ?`)
        .get(artifact.repo, artifact.path) as ArtifactRow | undefined;
      if (existing && (policy === 'create-only' || (policy === 'same-content-only' && existing.sha256 !== artifact.blob.sha256))) {
        return { conflict: toRecord(existing) };
      }
      if (quotaBytes !== undefined) {
        const usage = this.usage(artifact.repo);
        if (usage.bytes - (existing?.size ?? 0) + artifact.blob.size > quotaBytes) return { overQuota: usage };
      }
      const now = Date.now();
      this.insertBlob(artifact.blob, now);
      const cache = artifact.cache;
      this.sql(
          `INSERT INTO artifacts (repo, path, sha256, content_type, created_at, modified_at,
             upstream_etag, upstream_last_modified, fetched_at, expires_at)
           VALUES (@repo, @path, @sha256, @contentType, @now, @now, @etag, @lastModified, @fetchedAt, @expiresAt)
           ON CONFLICT (repo, path) DO UPDATE SET
             sha256 = excluded.sha256, content_type = excluded.content_type,
             modified_at = CASE WHEN artifacts.sha256 = excluded.sha256 THEN artifacts.modified_at ELSE excluded.modified_at END,
             upstream_etag = excluded.upstream_etag, upstream_last_modified = excluded.upstream_last_modified,
             fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
        )
        .run({
          repo: artifact.repo,
          path: artifact.path,
          sha256: artifact.blob.sha256,
          contentType: artifact.contentType,
          now,
          etag: cache?.upstreamEtag ?? null,
          lastModified: cache?.upstreamLastModified ?? null,
          fetchedAt: cache?.fetchedAt ?? null,
          expiresAt: cache?.expiresAt ?? null,
        });
      this.sql(`DELETE FROM negative_cache WHERE repo = ? AND path = ?`).run(artifact.repo, artifact.path);
      const stored = this.sql(`${SELECT_ARTIFACT} WHERE repo = ? AND path = ?`)
        .get(artifact.repo, artifact.path) as ArtifactRow;
      return { stored: toRecord(stored) };
    });
    return put.immediate();
  }

  private insertBlob(blob: StoredBlob, now: number): void {
    // Digests still awaited are filled by a later write of the same content that has them.
    this.sql(
        `INSERT INTO blobs (sha256, size, sha1, md5, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sha256) DO UPDATE SET sha1 = excluded.sha1, md5 = excluded.md5, sha512 = excluded.sha512
           WHERE blobs.sha1 = '${AWAITED}' AND excluded.sha1 <> '${AWAITED}'`,
      )
      .run(blob.sha256, blob.size, blob.sha1 ?? AWAITED, blob.md5 ?? AWAITED, blob.sha512 ?? AWAITED, now);
  }

  async blobsAwaitingDigests(after: string, limit: number): Promise<string[]> {
    const rows = this.sql(`SELECT sha256 FROM blobs WHERE sha1 = '${AWAITED}' AND sha256 > ? ORDER BY sha256 LIMIT ?`)
      .all(after, limit) as { sha256: string }[];
    return rows.map((row) => row.sha256);
  }

  async setOtherDigests(sha256: string, digests: OtherDigests): Promise<void> {
    this.sql(`UPDATE blobs SET sha1 = ?, md5 = ?, sha512 = ? WHERE sha256 = ? AND sha1 = '${AWAITED}'`)
      .run(digests.sha1, digests.md5, digests.sha512, sha256);
  }

  async deleteArtifact(repo: string, path: string, unchangedSince?: number): Promise<boolean> {
    const remove = this.db.transaction(() => {
      const deleted = this.sql(`DELETE FROM artifacts WHERE repo = ? AND path = ? AND modified_at <= ?`)
        .run(repo, path, unchangedSince ?? Number.MAX_SAFE_INTEGER).changes > 0;
      if (deleted) this.sql(`DELETE FROM properties WHERE repo = ? AND path = ?`).run(repo, path);
      return deleted;
    });
    return remove.immediate();
  }

  async renewArtifact(repo: string, path: string): Promise<void> {
    this.sql(`UPDATE artifacts SET modified_at = MAX(modified_at, ?) WHERE repo = ? AND path = ?`).run(Date.now(), repo, path);
  }

  async listArtifacts(repo: string, options: ListOptions = {}): Promise<ArtifactRecord[]> {
    const rows = this.sql(
        `${SELECT_ARTIFACT} WHERE repo = ? AND path LIKE ? ESCAPE '\\' AND instr(path, ?) > 0 AND path > ?
         ORDER BY path LIMIT ?`,
      )
      .all(repo, likePrefix(options.prefix ?? ''), options.contains ?? '', options.after ?? '', options.limit ?? -1) as ArtifactRow[];
    return rows.map(toRecord);
  }

  async listPaths(repo: string, after: string, limit: number): Promise<string[]> {
    return this.sql('SELECT path FROM artifacts WHERE repo = ? AND path > ? ORDER BY path LIMIT ?').pluck().all(repo, after, limit) as string[];
  }

  async listChildren(repo: string, prefix: string, limit: number, from = prefix): Promise<FolderChild[]> {
    const first = this.sql(
      `SELECT a.path, a.modified_at, b.size FROM artifacts a JOIN blobs b USING (sha256)
       WHERE a.repo = ? AND a.path >= ? ORDER BY a.path LIMIT 1`,
    );
    return skipScan(prefix, limit, from, async (cursor) => first.get(repo, cursor) as ScannedPath | undefined);
  }

  async findByProperties(repo: string, query: PropertyQuery, limit: number, after = ''): Promise<ArtifactRecord[]> {
    if (query.length === 0) return [];
    // The files carrying the first pair come from the property index; the other pairs are checked on each.
    const carrying = `SELECT path FROM properties WHERE key = ? AND (? = '' OR value = ?) AND repo = ?`;
    const each = `EXISTS (SELECT 1 FROM properties p WHERE p.repo = a.repo AND p.path = a.path AND p.key = ? AND (? = '' OR p.value = ?))`;
    const [[key, value], ...others] = query as [PropertyQuery[number], ...PropertyQuery];
    const rows = this.sql(
        `${SELECT_ARTIFACT} WHERE a.repo = ? AND a.path > ? AND a.path IN (${carrying})
         ${others.map(() => `AND ${each}`).join(' ')} ORDER BY a.path LIMIT ?`,
      )
      .all(repo, after, key, value, value, repo, ...others.flatMap(([k, v]) => [k, v, v]), limit) as ArtifactRow[];
    return rows.map(toRecord);
  }

  async updateCacheState(repo: string, path: string, state: CacheState): Promise<void> {
    this.sql(
        `UPDATE artifacts SET fetched_at = ?, expires_at = ?,
           upstream_etag = COALESCE(?, upstream_etag), upstream_last_modified = COALESCE(?, upstream_last_modified)
         WHERE repo = ? AND path = ?`,
      )
      .run(state.fetchedAt, state.expiresAt, state.upstreamEtag ?? null, state.upstreamLastModified ?? null, repo, path);
  }

  async recordDownloads(tallies: DownloadTally[], cache: CacheTally[]): Promise<void> {
    const update = this.sql(
      `UPDATE artifacts SET download_count = download_count + ?, downloaded_at = MAX(COALESCE(downloaded_at, 0), ?)
       WHERE repo = ? AND path = ?`,
    );
    const count = this.sql(
      `INSERT INTO repo_usage (repo, cache_hits, cache_misses) VALUES (?, ?, ?)
       ON CONFLICT (repo) DO UPDATE SET cache_hits = cache_hits + excluded.cache_hits, cache_misses = cache_misses + excluded.cache_misses`,
    );
    this.db.transaction(() => {
      for (const t of tallies) update.run(t.count, t.lastAt, t.repo, t.path);
      for (const c of cache) count.run(c.repo, c.hits, c.misses);
    })();
  }

  async getProperties(repo: string, path: string): Promise<Properties> {
    const rows = this.sql(`SELECT key, value FROM properties WHERE repo = ? AND path = ? ORDER BY key, value`)
      .all(repo, path) as { key: string; value: string }[];
    const properties: Properties = {};
    for (const { key, value } of rows) (properties[key] ??= []).push(value);
    return properties;
  }

  async setProperties(repo: string, path: string, properties: Properties): Promise<void> {
    const clear = this.sql(`DELETE FROM properties WHERE repo = ? AND path = ? AND key = ?`);
    const insert = this.sql(`INSERT OR IGNORE INTO properties (repo, path, key, value) VALUES (?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const [key, values] of Object.entries(properties)) {
        clear.run(repo, path, key);
        for (const value of values) insert.run(repo, path, key, value);
      }
    })();
  }

  async deleteProperties(repo: string, path: string, keys: string[]): Promise<void> {
    const clear = this.sql(`DELETE FROM properties WHERE repo = ? AND path = ? AND key = ?`);
    this.db.transaction(() => keys.forEach((key) => clear.run(repo, path, key)))();
  }

  async findByChecksum(query: ChecksumQuery): Promise<ArtifactRecord[]> {
    const [column, value] = Object.entries(query)[0] as [string, string];
    const rows = this.sql(`${SELECT_ARTIFACT} WHERE b.${column} = ? ORDER BY repo, path`)
      .all(value.toLowerCase()) as ArtifactRow[];
    return rows.map(toRecord);
  }

  async getUpstreamOutage(repo: string): Promise<UpstreamOutage | undefined> {
    return this.sql('SELECT until, reason FROM upstream_outages WHERE repo = ?').get(repo) as UpstreamOutage | undefined;
  }

  async setUpstreamOutage(repo: string, outage: UpstreamOutage | undefined): Promise<void> {
    if (outage) {
      this.sql('INSERT INTO upstream_outages (repo, until, reason) VALUES (?, ?, ?) ON CONFLICT (repo) DO UPDATE SET until = excluded.until, reason = excluded.reason').run(repo, outage.until, outage.reason);
    } else {
      this.sql('DELETE FROM upstream_outages WHERE repo = ?').run(repo);
    }
  }

  async getUpstreamBudget(repo: string): Promise<SharedBudget | undefined> {
    const row = this.sql(`${SELECT_BUDGET} WHERE repo = ?`).get(repo) as BudgetRow | undefined;
    return row && toBudget(row);
  }

  async setUpstreamBudget(repo: string, budget: SharedBudget): Promise<void> {
    this.sql(
      `INSERT INTO upstream_budgets AS b (repo, rate_limit, remaining, blocked_until, observed_at) VALUES (@repo, @limit, @remaining, @blockedUntil, @observedAt)
       ON CONFLICT (repo) DO UPDATE SET
         rate_limit = CASE WHEN excluded.observed_at >= b.observed_at THEN COALESCE(excluded.rate_limit, b.rate_limit) ELSE b.rate_limit END,
         remaining = CASE WHEN excluded.observed_at >= b.observed_at THEN COALESCE(excluded.remaining, b.remaining) ELSE b.remaining END,
         blocked_until = MAX(COALESCE(b.blocked_until, 0), COALESCE(excluded.blocked_until, 0)),
         observed_at = MAX(b.observed_at, excluded.observed_at)`,
    ).run(budgetParams(repo, budget));
  }

  async putNegative(repo: string, path: string, expiresAt: number): Promise<void> {
    this.sql(
        `INSERT INTO negative_cache (repo, path, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (repo, path) DO UPDATE SET expires_at = excluded.expires_at`,
      )
      .run(repo, path, expiresAt);
  }

  async getNegative(repo: string, path: string): Promise<number | undefined> {
    const row = this.sql(`SELECT expires_at FROM negative_cache WHERE repo = ? AND path = ?`).get(repo, path) as
      | { expires_at: number }
      | undefined;
    return row?.expires_at;
  }

  async clearNegative(repo: string, path: string): Promise<void> {
    this.sql(`DELETE FROM negative_cache WHERE repo = ? AND path = ?`).run(repo, path);
  }

  async listBlobDigests(after: string, limit: number): Promise<string[]> {
    const rows = this.sql(`SELECT DISTINCT sha256 FROM artifacts WHERE sha256 > ? ORDER BY sha256 LIMIT ?`)
      .all(after, limit) as { sha256: string }[];
    return rows.map((r) => r.sha256);
  }

  async blobDigestsWithPrefix(prefix: string): Promise<string[]> {
    const rows = this.sql(`SELECT DISTINCT sha256 FROM artifacts WHERE sha256 >= ? AND sha256 < ?`)
      .all(prefix, `${prefix}g`) as { sha256: string }[];
    return rows.map((r) => r.sha256);
  }

  async blobReferences(sha256: string): Promise<number> {
    return (this.sql(`SELECT COUNT(*) AS n FROM artifacts WHERE sha256 = ?`).get(sha256) as { n: number }).n;
  }

  async forgetUnreferencedBlobs(prefix: string): Promise<number> {
    return this.sql(
        `DELETE FROM blobs WHERE sha256 >= @from AND sha256 < @to
           AND sha256 NOT IN (SELECT sha256 FROM artifacts WHERE sha256 >= @from AND sha256 < @to)`,
      )
      .run({ from: prefix, to: `${prefix}g` }).changes;
  }

  async usageOf(repo: string): Promise<RepositoryUsage> {
    return this.usage(repo);
  }

  private usage(repo: string): RepositoryUsage {
    const row = this.sql(`${SELECT_USAGE} WHERE repo = ?`).get(repo) as RepositoryUsage | undefined;
    return row ?? { repo, files: 0, bytes: 0, cacheHits: 0, cacheMisses: 0 };
  }

  async repositoryUsage(): Promise<RepositoryUsage[]> {
    return this.sql(`${SELECT_USAGE} ORDER BY repo`).all() as RepositoryUsage[];
  }

  async leastRecentlyUsed(repos: string[], limit: number): Promise<ArtifactRecord[]> {
    const rows = this.sql(
        `${SELECT_ARTIFACT} WHERE repo IN (${repos.map(() => '?').join(', ')})
         ORDER BY COALESCE(downloaded_at, a.created_at) LIMIT ?`,
      )
      .all(...repos, limit) as ArtifactRow[];
    return rows.map(toRecord);
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    return (
      this.sql(
        `INSERT INTO job_leases (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= @now`,
      ).run({ name, holder, expiresAt: now + ttlMs, now }).changes > 0
    );
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.sql(`DELETE FROM job_leases WHERE name = ? AND holder = ?`).run(name, holder);
  }

  async leaseHolder(name: string): Promise<string | undefined> {
    return (this.sql(`SELECT holder FROM job_leases WHERE name = ?`).get(name) as { holder: string } | undefined)?.holder;
  }

  async takeOverLease(name: string, from: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.sql(`UPDATE job_leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?`).run(holder, Date.now() + ttlMs, name, from).changes > 0;
  }

  async claimFetch(name: string, holder: string, ttlMs: number): Promise<FetchClaim> {
    const now = Date.now();
    const claimed = this.sql(
      `INSERT INTO fetch_claims (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, head = NULL, end_event = NULL
       WHERE fetch_claims.expires_at <= @now OR fetch_claims.end_event IS NOT NULL`,
    ).run({ name, holder, expiresAt: now + ttlMs, now }).changes > 0;
    if (claimed) return { claimed: true };
    const row = this.sql(`${SELECT_CLAIM} WHERE name = ?`).get(name) as ClaimRow | undefined;
    return otherClaim(row);
  }

  async fetchClaim(name: string) {
    const row = this.sql(`${SELECT_CLAIM} WHERE name = ?`).get(name) as ClaimRow | undefined;
    return row && toClaim(row, Date.now());
  }

  async renewFetch(name: string, holder: string, ttlMs: number): Promise<void> {
    this.sql('UPDATE fetch_claims SET expires_at = ? WHERE name = ? AND holder = ? AND end_event IS NULL').run(Date.now() + ttlMs, name, holder);
  }

  async announceFetch(name: string, holder: string, head: string | undefined, end: string | undefined, keepMs: number): Promise<void> {
    this.sql(
      `UPDATE fetch_claims SET head = COALESCE(?, head), end_event = ?, expires_at = CASE WHEN ? IS NULL THEN expires_at ELSE ? END
       WHERE name = ? AND holder = ?`,
    ).run(head ?? null, end ?? null, end ?? null, Date.now() + keepMs, name, holder);
  }

  async forgetFetches(before: number): Promise<void> {
    this.sql('DELETE FROM fetch_claims WHERE expires_at < ?').run(before);
  }

  async storageBytes(): Promise<number> {
    const row = this.sql(`SELECT COALESCE(SUM(size), 0) AS bytes FROM blobs WHERE sha256 IN (SELECT sha256 FROM artifacts)`)
      .get() as { bytes: number };
    return row.bytes;
  }

  async importedBundles(): Promise<ImportedBundle[]> {
    const rows = this.sql(`SELECT * FROM imported_bundles ORDER BY imported_at`).all() as {
      id: string; predecessor: string | null; created_at: number; imported_at: number; key_id: string | null; source: string | null; records: number; bytes: number;
    }[];
    return rows.map((row) => ({
      id: row.id,
      predecessor: row.predecessor,
      createdAt: row.created_at,
      importedAt: row.imported_at,
      keyId: row.key_id,
      source: row.source,
      records: row.records,
      bytes: row.bytes,
    }));
  }

  async replicationStates(): Promise<ReplicationState[]> {
    return (this.sql('SELECT * FROM replication_state ORDER BY name').all() as ReplicationRow[]).map(toReplicationState);
  }

  async recordReplicationRun(name: string, run: ReplicationRun): Promise<void> {
    this.sql(
      `INSERT INTO replication_state (name, last_bundle, last_bundle_created_at, last_run_at, last_success_at, last_error, runs, records, bytes)
       VALUES (@name, @bundle, @bundleCreatedAt, @at, CASE WHEN @error IS NULL THEN @at END, @error, 1, @records, @bytes)
       ON CONFLICT (name) DO UPDATE SET
         last_bundle = COALESCE(@bundle, last_bundle), last_bundle_created_at = COALESCE(@bundleCreatedAt, last_bundle_created_at),
         last_run_at = @at, last_success_at = CASE WHEN @error IS NULL THEN @at ELSE last_success_at END, last_error = @error,
         runs = runs + 1, records = records + @records, bytes = bytes + @bytes`,
    ).run({
      name,
      bundle: run.bundle?.id ?? null,
      bundleCreatedAt: run.bundle?.createdAt ?? null,
      at: run.at,
      error: run.error ?? null,
      records: run.records,
      bytes: run.bytes,
    });
  }

  async applyBundle(bundle: BundleApplied, artifacts: BundledArtifact[]): Promise<void> {
    const upsert = this.sql(
      `INSERT INTO artifacts (repo, path, sha256, content_type, created_at, modified_at,
         upstream_etag, upstream_last_modified, fetched_at, expires_at)
       VALUES (@repo, @path, @sha256, @contentType, @createdAt, @modifiedAt, @etag, @lastModified, @fetchedAt, @expiresAt)
       ON CONFLICT (repo, path) DO UPDATE SET
         sha256 = excluded.sha256, content_type = excluded.content_type, modified_at = excluded.modified_at,
         upstream_etag = excluded.upstream_etag, upstream_last_modified = excluded.upstream_last_modified,
         fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
    );
    this.db.transaction(() => {
      const now = Date.now();
      for (const artifact of artifacts) {
        this.insertBlob(artifact.blob, now);
        upsert.run({
          repo: artifact.repo,
          path: artifact.path,
          sha256: artifact.blob.sha256,
          contentType: artifact.contentType,
          createdAt: artifact.createdAt,
          modifiedAt: artifact.modifiedAt,
          etag: artifact.cache?.upstreamEtag ?? null,
          lastModified: artifact.cache?.upstreamLastModified ?? null,
          fetchedAt: artifact.cache?.fetchedAt ?? null,
          expiresAt: artifact.cache?.expiresAt ?? null,
        });
        this.sql(`DELETE FROM negative_cache WHERE repo = ? AND path = ?`).run(artifact.repo, artifact.path);
      }
      this.sql(
        `INSERT INTO imported_bundles (id, predecessor, created_at, imported_at, key_id, source, records, bytes)
         VALUES (@id, @predecessor, @createdAt, @now, @keyId, @source, @records, @bytes)`,
      ).run({ ...bundle, now, records: artifacts.length });
    }).immediate();
  }

  async snapshot(file: string): Promise<void> {
    this.copyTo(file);
  }

  /**
   * A consistent copy in one self-contained file, taken while other processes read and write (a read
   * transaction; writers go on). Works on a read-only connection too.
   */
  private copyTo(file: string): void {
    this.db.prepare('VACUUM INTO ?').run(file);
  }

  async heartbeat(node: NodeRecord): Promise<void> {
    this.sql(
      `INSERT INTO nodes (id, host, url, version, started_at, heartbeat_at) VALUES (@id, @host, @url, @version, @startedAt, @heartbeatAt)
       ON CONFLICT (id) DO UPDATE SET host = excluded.host, url = excluded.url, version = excluded.version,
         started_at = excluded.started_at, heartbeat_at = MAX(nodes.heartbeat_at, excluded.heartbeat_at)`,
    ).run(node);
  }

  async listNodes(since: number): Promise<NodeRecord[]> {
    return this.sql(
      `SELECT id, host, url, version, started_at AS startedAt, heartbeat_at AS heartbeatAt FROM nodes WHERE heartbeat_at >= ? ORDER BY id`,
    ).all(since) as NodeRecord[];
  }

  async ping(): Promise<void> {
    this.sql(`INSERT OR REPLACE INTO readiness_probe (id, at) VALUES (1, ?)`).run(Date.now());
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const row = this.sql('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return row && toUser(row);
  }

  async putUser(user: UserRecord): Promise<void> {
    this.sql(
      `INSERT INTO users (name, password_hash, email, admin, disabled, created_at)
       VALUES (@name, @passwordHash, @email, @admin, @disabled, @createdAt)
       ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, email = excluded.email,
         admin = excluded.admin, disabled = excluded.disabled`,
    ).run({
      name: user.name,
      passwordHash: user.passwordHash,
      email: user.email ?? null,
      admin: user.admin ? 1 : 0,
      disabled: user.disabled ? 1 : 0,
      createdAt: user.createdAt,
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.sql('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  async putToken(token: TokenRecord): Promise<void> {
    this.sql(
      `INSERT INTO tokens (id, hash, username, description, created_at, expires_at, last_used_at, revoked_at, scope)
       VALUES (@id, @hash, @username, @description, @createdAt, @expiresAt, @lastUsedAt, @revokedAt, @scope)`,
    ).run({ ...token, scope: token.scope ? JSON.stringify(token.scope) : null });
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const row = this.sql('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    return row && toToken(row);
  }

  async touchToken(id: string, at: number): Promise<void> {
    this.sql('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  async recordTraffic(minutes: TrafficMinute[], forgetBefore: number): Promise<void> {
    const add = this.sql(
      `INSERT INTO traffic_minutes (minute, requests, errors, cache_hits, cache_misses) VALUES (@minute, @requests, @errors, @cacheHits, @cacheMisses)
       ON CONFLICT (minute) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
         cache_hits = cache_hits + excluded.cache_hits, cache_misses = cache_misses + excluded.cache_misses`,
    );
    this.db.transaction(() => {
      for (const minute of minutes) add.run(minute);
      this.sql('DELETE FROM traffic_minutes WHERE minute < ?').run(forgetBefore);
    })();
  }

  async traffic(since: number): Promise<TrafficMinute[]> {
    return this.sql(
      `SELECT minute, requests, errors, cache_hits AS cacheHits, cache_misses AS cacheMisses FROM traffic_minutes WHERE minute >= ? ORDER BY minute`,
    ).all(since) as TrafficMinute[];
  }

  async putSession(session: SessionRecord): Promise<void> {
    this.db.transaction(() => {
      this.sql('DELETE FROM ui_sessions WHERE expires_at <= ?').run(session.createdAt);
      this.sql('INSERT INTO ui_sessions (hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)')
        .run(session.hash, session.username, session.createdAt, session.expiresAt);
    })();
  }

  async findSession(hash: string, at: number): Promise<string | undefined> {
    const row = this.sql('SELECT username FROM ui_sessions WHERE hash = ? AND expires_at > ?').get(hash, at) as { username: string } | undefined;
    return row?.username;
  }

  async deleteSession(hash: string): Promise<void> {
    this.sql('DELETE FROM ui_sessions WHERE hash = ?').run(hash);
  }

  async deleteSessionsOf(username: string): Promise<void> {
    this.sql('DELETE FROM ui_sessions WHERE username = ?').run(username);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    return this.sql('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes > 0;
  }

  async listTokens(username?: string): Promise<TokenRecord[]> {
    const rows = username === undefined
      ? this.sql('SELECT * FROM tokens ORDER BY created_at').all()
      : this.sql('SELECT * FROM tokens WHERE username = ? ORDER BY created_at').all(username);
    return (rows as TokenRow[]).map(toToken);
  }

  async deleteUser(name: string): Promise<boolean> {
    return this.sql('DELETE FROM users WHERE name = ?').run(name).changes > 0;
  }

  async putGroup(group: GroupRecord): Promise<void> {
    this.db.transaction(() => {
      this.sql('INSERT INTO groups (name, description) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET description = excluded.description')
        .run(group.name, group.description);
      this.sql('DELETE FROM group_members WHERE group_name = ?').run(group.name);
      const add = this.sql('INSERT INTO group_members (group_name, username) VALUES (?, ?)');
      for (const member of new Set(group.members)) add.run(group.name, member);
    }).immediate();
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.sql('DELETE FROM groups WHERE name = ?').run(name).changes > 0;
  }

  async listGroups(): Promise<GroupRecord[]> {
    const groups = this.sql('SELECT name, description FROM groups ORDER BY name').all() as { name: string; description: string }[];
    const members = this.sql('SELECT username FROM group_members WHERE group_name = ? ORDER BY username');
    return groups.map((g) => ({ ...g, members: (members.all(g.name) as { username: string }[]).map((m) => m.username) }));
  }

  async groupsOf(username: string): Promise<string[]> {
    const rows = this.sql('SELECT group_name FROM group_members WHERE username = ? ORDER BY group_name').all(username);
    return (rows as { group_name: string }[]).map((row) => row.group_name);
  }

  async putPermissionTarget(target: PermissionTarget): Promise<void> {
    this.sql('INSERT INTO permission_targets (name, definition) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition')
      .run(target.name, JSON.stringify(target));
  }

  async deletePermissionTarget(name: string): Promise<boolean> {
    return this.sql('DELETE FROM permission_targets WHERE name = ?').run(name).changes > 0;
  }

  async listPermissionTargets(): Promise<PermissionTarget[]> {
    const rows = this.sql('SELECT definition FROM permission_targets ORDER BY name').all() as { definition: string }[];
    return rows.map((row) => JSON.parse(row.definition) as PermissionTarget);
  }

  async securityRevision(): Promise<number> {
    return this.memo.get('security-revision', () => (this.sql('SELECT revision FROM security_revision WHERE id = 1').get() as { revision: number }).revision);
  }

  async takeLoginAttempt(keys: LoginThrottleKey[], at: number, windowMs: number, maxDelayMs: number): Promise<{ retryAt?: number }> {
    const read = this.sql('SELECT count, last_at FROM login_failures WHERE key = ? AND last_at > ?');
    const count = this.sql(
      `INSERT INTO login_failures (key, count, first_at, last_at) VALUES (@key, 1, @at, @at)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN last_at <= @at - @windowMs THEN 1 ELSE count + 1 END,
         first_at = CASE WHEN last_at <= @at - @windowMs THEN @at ELSE first_at END,
         last_at = @at`,
    );
    return this.db.transaction(() => {
      let retryAt: number | undefined;
      for (const { key, free } of keys) {
        const row = read.get(key, at - windowMs) as { count: number; last_at: number } | undefined;
        if (!row || row.count < free) continue;
        const allowedAt = row.last_at + Math.min(1000 * 2 ** (row.count - free), maxDelayMs);
        if (allowedAt > at) retryAt = Math.max(retryAt ?? 0, allowedAt);
      }
      if (retryAt !== undefined) return { retryAt };
      for (const { key } of keys) count.run({ key, at, windowMs });
      return {};
    }).immediate();
  }

  async settleLoginAttempt(keys: { key: string; clear: boolean }[], succeeded: boolean, at: number): Promise<void> {
    const clear = this.sql('DELETE FROM login_failures WHERE key = ?');
    const refund = this.sql('UPDATE login_failures SET count = MAX(count - 1, 0) WHERE key = ?');
    const failed = this.sql('UPDATE login_failures SET last_at = MAX(last_at, ?) WHERE key = ?');
    this.db
      .transaction(() => keys.forEach(({ key, clear: drop }) => (succeeded ? (drop ? clear : refund).run(key) : failed.run(at, key))))
      .immediate();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
