import type { ArtifactRecord, CacheState, FetchClaim, FolderChild, ReplicationState } from './metadata-index.js';
import type { TokenRecord, TokenScope, UserRecord } from './identity-store.js';
import type { SharedBudget } from '../upstream/rate-limit.js';

/**
 * Rows as both indexes (SQLite and PostgreSQL) keep them: the same tables and columns (times in epoch
 * milliseconds, flags as 0/1), so that rows copy unchanged between the two (`shelf index migrate`, backups).
 */

export interface UserRow {
  name: string;
  password_hash: string | null;
  email: string | null;
  admin: number;
  disabled: number;
  created_at: number;
}

export interface TokenRow {
  id: string;
  hash: string;
  username: string;
  description: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  scope: string | null;
}

export const toUser = (row: UserRow): UserRecord => ({
  name: row.name,
  passwordHash: row.password_hash,
  ...(row.email !== null && { email: row.email }),
  admin: row.admin === 1,
  disabled: row.disabled === 1,
  createdAt: row.created_at,
});

export const toToken = (row: TokenRow): TokenRecord => ({
  id: row.id,
  hash: row.hash,
  username: row.username,
  description: row.description,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
  ...(row.scope !== null && { scope: JSON.parse(row.scope) as TokenScope }),
});

export interface ArtifactRow {
  repo: string;
  path: string;
  sha256: string;
  size: number;
  sha1: string;
  md5: string;
  sha512: string;
  content_type: string;
  created_at: number;
  modified_at: number;
  downloaded_at: number | null;
  download_count: number;
  upstream_etag: string | null;
  upstream_last_modified: string | null;
  fetched_at: number | null;
  expires_at: number | null;
}

/**
 * What the blobs table holds for digests still to be computed (see DeferredDigests): an empty string, which
 * no checksum query matches, so that the columns could stay NOT NULL without rebuilding the table.
 */
export const AWAITED = '';

export const SELECT_ARTIFACT = `SELECT a.*, b.size, b.sha1, b.md5, b.sha512 FROM artifacts a JOIN blobs b USING (sha256)`;

export function toRecord(row: ArtifactRow): ArtifactRecord {
  const record: ArtifactRecord = {
    repo: row.repo,
    path: row.path,
    blob: { sha256: row.sha256, size: row.size, ...(row.sha1 !== AWAITED && { sha1: row.sha1, md5: row.md5, sha512: row.sha512 }) },
    contentType: row.content_type,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
    downloadedAt: row.downloaded_at,
    downloadCount: row.download_count,
  };
  if (row.fetched_at !== null) {
    record.cache = {
      fetchedAt: row.fetched_at,
      expiresAt: row.expires_at,
      ...(row.upstream_etag !== null && { upstreamEtag: row.upstream_etag }),
      ...(row.upstream_last_modified !== null && { upstreamLastModified: row.upstream_last_modified }),
    };
  }
  return record;
}

export const SELECT_USAGE = `SELECT repo, files, bytes, cache_hits AS "cacheHits", cache_misses AS "cacheMisses" FROM repo_usage`;

/** Escapes LIKE wildcards so a path prefix matches literally. */
export const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A file or folder the skip scan found: the first path at or past its cursor. */
export interface ScannedPath {
  path: string;
  modified_at: number;
  size: number;
}

/**
 * A folder's children by skip scan: the first path at or past the cursor names the next child; the cursor
 * then jumps past that file, or past its whole folder ('0' is the character after '/'; a cursor ending in
 * '\0', the least string after a path, means "after this path"). `first` reads one row at or past a cursor.
 */
export async function skipScan(
  prefix: string,
  limit: number,
  from: string,
  first: (cursor: string) => Promise<ScannedPath | undefined>,
): Promise<FolderChild[]> {
  const children: FolderChild[] = [];
  let cursor = from < prefix ? prefix : from;
  while (children.length < limit) {
    const row = await first(cursor);
    if (!row || !row.path.startsWith(prefix)) break;
    const rest = row.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) {
      cursor = `${row.path}\0`;
      children.push({ name: rest, folder: false, next: cursor, size: row.size, modifiedAt: row.modified_at });
    } else {
      const name = rest.slice(0, slash);
      cursor = `${prefix}${name}0`;
      children.push({ name, folder: true, next: cursor });
    }
  }
  return children;
}

export interface BudgetRow {
  rate_limit: number | null;
  remaining: number | null;
  blocked_until: number | null;
  observed_at: number;
}

export const SELECT_BUDGET = 'SELECT rate_limit, remaining, blocked_until, observed_at FROM upstream_budgets';

export const toBudget = (row: BudgetRow): SharedBudget => ({
  ...(row.rate_limit !== null && { limit: row.rate_limit }),
  ...(row.remaining !== null && { remaining: row.remaining }),
  ...(row.blocked_until && { blockedUntil: row.blocked_until }),
  observedAt: row.observed_at,
});

export const budgetParams = (repo: string, budget: SharedBudget) => ({
  repo,
  limit: budget.limit ?? null,
  remaining: budget.remaining ?? null,
  blockedUntil: budget.blockedUntil ?? null,
  observedAt: budget.observedAt,
});

export interface ClaimRow {
  holder: string;
  head: string | null;
  end_event: string | null;
  expires_at: number;
}

export const SELECT_CLAIM = 'SELECT holder, head, end_event, expires_at FROM fetch_claims';

export const toClaim = (row: ClaimRow, now: number) => ({
  holder: row.holder,
  ...(row.head !== null && { head: row.head }),
  ...(row.end_event !== null && { end: row.end_event }),
  live: row.end_event === null && row.expires_at > now,
});

/** A claim someone else holds; none (it was just forgotten): nobody's, so the next attempt takes it. */
export const otherClaim = (row: ClaimRow | undefined): FetchClaim => ({
  claimed: false,
  holder: row?.holder ?? '',
  ...(row?.head != null && { head: row.head }),
  ...(row?.end_event != null && { end: row.end_event }),
});

export interface ReplicationRow {
  name: string;
  last_bundle: string | null;
  last_bundle_created_at: number | null;
  last_run_at: number | null;
  last_success_at: number | null;
  last_error: string | null;
  runs: number;
  records: number;
  bytes: number;
}

export const toReplicationState = (row: ReplicationRow): ReplicationState => ({
  name: row.name,
  lastBundle: row.last_bundle === null ? null : { id: row.last_bundle, createdAt: row.last_bundle_created_at! },
  lastRunAt: row.last_run_at,
  lastSuccessAt: row.last_success_at,
  lastError: row.last_error,
  runs: row.runs,
  records: row.records,
  bytes: row.bytes,
});

/** An artifact's cache columns (upstream_etag, upstream_last_modified, fetched_at, expires_at), null for local content. */
export const cacheColumns = (cache: CacheState | undefined) => [
  cache?.upstreamEtag ?? null,
  cache?.upstreamLastModified ?? null,
  cache?.fetchedAt ?? null,
  cache?.expiresAt ?? null,
];
