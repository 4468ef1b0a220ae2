import type { StoredBlob } from './blob-store.js';
import type { OtherDigests } from './checksums.js';
import type { SharedBudget } from '../upstream/rate-limit.js';

/** Upstream validators and freshness of a cached file in a remote repository. */
export interface CacheState {
  upstreamEtag?: string;
  upstreamLastModified?: string;
  fetchedAt: number;
  /** null: immutable content, never revalidated. */
  expiresAt: number | null;
}

export interface ArtifactRecord {
  repo: string;
  path: string;
  blob: StoredBlob;
  contentType: string;
  createdAt: number;
  modifiedAt: number;
  downloadedAt: number | null;
  downloadCount: number;
  cache?: CacheState;
}

export interface NewArtifact {
  repo: string;
  path: string;
  blob: StoredBlob;
  contentType: string;
  cache?: CacheState;
}

/**
 * `same-content-only` is the release-repo rule: an existing path keeps its content forever.
 * `create-only` refuses any second write, even of the same content (an npm version is published once).
 */
export type OverwritePolicy = 'always' | 'same-content-only' | 'create-only';

/** `overQuota`: storing it would take the repository past `quotaBytes`; what it holds now. */
export type PutResult = { stored: ArtifactRecord } | { conflict: ArtifactRecord } | { overQuota: RepositoryUsage };

export type Properties = Record<string, string[]>;

export interface DownloadTally {
  repo: string;
  path: string;
  count: number;
  lastAt: number;
}

/** A remote repository's answers from its cache (hits) and from its upstream (misses). */
export interface CacheTally {
  repo: string;
  hits: number;
  misses: number;
}

export interface ListOptions {
  /** Only paths starting with this prefix. */
  prefix?: string;
  /** Only paths containing this text. */
  contains?: string;
  /** Paths sorting after this one (pagination). */
  after?: string;
  limit?: number;
}

/** One entry of a folder: a file, or a folder holding at least one file. */
export interface FolderChild {
  name: string;
  folder: boolean;
  /**
   * Where the next page starts, for a listing that ends here: past this file, or past everything in this
   * folder. Children come in the order of these keys.
   */
  next: string;
  /** For a file: its size and last change. */
  size?: number;
  modifiedAt?: number;
}

/** What Shelf answered in one minute (all processes together), for the system page's chart. */
export interface TrafficMinute {
  /** Minutes since the epoch. */
  minute: number;
  requests: number;
  /** Answers with a 5xx status. */
  errors: number;
  cacheHits: number;
  cacheMisses: number;
}

/** What a property search asks for: every pair must be set on the file (a value of '' matches any value). */
export type PropertyQuery = [key: string, value: string][];

/** A bundle as it is applied: what it is, who signed it, where it came from. */
export interface BundleApplied {
  id: string;
  predecessor: string | null;
  createdAt: number;
  keyId: string;
  /** `file:<path>`, `upload`, or `replication:<name>`. */
  source: string;
  bytes: number;
}

export interface ImportedBundle extends Omit<BundleApplied, 'keyId' | 'source'> {
  importedAt: number;
  keyId: string | null;
  source: string | null;
  records: number;
}

/** One run of a replication: the bundle it applied (none when nothing had changed), or why it failed. */
export interface ReplicationRun {
  at: number;
  bundle?: { id: string; createdAt: number };
  error?: string;
  records: number;
  bytes: number;
}

export interface ReplicationState {
  name: string;
  /** The newest bundle applied: the next run asks for what changed after it. */
  lastBundle: { id: string; createdAt: number } | null;
  lastRunAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  runs: number;
  records: number;
  bytes: number;
}

export interface UpstreamOutage {
  until: number;
  reason: string;
}

/** What one repository holds, as deployed or cached (a blob linked at two paths counts twice). */
export interface RepositoryUsage {
  repo: string;
  files: number;
  bytes: number;
  /** Downloads answered from the cache and from the upstream (remote repositories), since the repository was made. */
  cacheHits: number;
  cacheMisses: number;
}

/** An artifact as a bundle carries it: with the times it had where it was exported. */
export interface BundledArtifact extends NewArtifact {
  createdAt: number;
  modifiedAt: number;
}

/** Who fetches a path from an upstream for every node (see ClusterFlightCoordinator). */
export type FetchClaim =
  | { claimed: true }
  /** Another holder fetches it: what it has announced so far (opaque to the index). */
  | { claimed: false; holder: string; head?: string; end?: string };

/** One Shelf node (one `shelf serve`, all its workers): what it runs, and when it last said it was alive. */
export interface NodeRecord {
  id: string;
  host: string;
  /** Where the node itself answers (behind the load balancer). */
  url: string;
  version: string;
  startedAt: number;
  heartbeatAt: number;
}

export type ChecksumQuery = { sha256: string } | { sha1: string } | { md5: string };

/**
 * Where Shelf records what each repository holds at each path. Async so that a networked implementation
 * (PostgreSQL, for HA) can satisfy it as well as the embedded SQLite one.
 */
export interface MetadataIndex {
  getArtifact(repo: string, path: string): Promise<ArtifactRecord | undefined>;
  /**
   * Atomically checks the overwrite policy and, when given, the repository's quota (bytes it may hold,
   * counting what the artifact replaces as freed), and records the artifact.
   */
  putArtifact(artifact: NewArtifact, policy: OverwritePolicy, quotaBytes?: number): Promise<PutResult>;
  /** With `unchangedSince`: only if the entry was not modified (or renewed) after that time. */
  deleteArtifact(repo: string, path: string, unchangedSince?: number): Promise<boolean>;
  /** Marks an entry as just referenced again (Docker: a layer a new manifest names), so GC running now keeps it. */
  renewArtifact(repo: string, path: string): Promise<void>;
  listArtifacts(repo: string, options?: ListOptions): Promise<ArtifactRecord[]>;
  /** Up to `limit` paths of `repo` after `after`, in order: a walk that reads the index only. */
  listPaths(repo: string, after: string, limit: number): Promise<string[]>;
  updateCacheState(repo: string, path: string, state: CacheState): Promise<void>;
  recordDownloads(tallies: DownloadTally[], cache: CacheTally[]): Promise<void>;
  getProperties(repo: string, path: string): Promise<Properties>;
  /** Replaces the values of the keys given; other keys are kept. */
  setProperties(repo: string, path: string, properties: Properties): Promise<void>;
  deleteProperties(repo: string, path: string, keys: string[]): Promise<void>;
  findByChecksum(query: ChecksumQuery): Promise<ArtifactRecord[]>;
  /**
   * The immediate children of the folder `prefix` (empty, or ending in '/'), at most `limit`, starting at
   * `from` (a child's `next`); one index seek per child, however many files lie below them.
   */
  listChildren(repo: string, prefix: string, limit: number, from?: string): Promise<FolderChild[]>;
  /** The files of `repo` that carry every property of `query`, in path order after `after`. */
  findByProperties(repo: string, query: PropertyQuery, limit: number, after?: string): Promise<ArtifactRecord[]>;
  /** Adds one process's counts to the minutes they fall in; minutes before `forgetBefore` are dropped. */
  recordTraffic(minutes: TrafficMinute[], forgetBefore: number): Promise<void>;
  /** The minutes from `since` on (minutes since the epoch); a minute without requests has no entry. */
  traffic(since: number): Promise<TrafficMinute[]>;
  /** Remembers that the upstream has no such path, until `expiresAt`. */
  putNegative(repo: string, path: string, expiresAt: number): Promise<void>;
  /** A remote repository's upstream as every worker sees it: assumed offline until when, and why (undefined: online). */
  getUpstreamOutage(repo: string): Promise<UpstreamOutage | undefined>;
  /** Records that the upstream failed (or, with undefined, that it answered again). */
  setUpstreamOutage(repo: string, outage: UpstreamOutage | undefined): Promise<void>;
  /** A remote repository's upstream rate-limit budget as last announced to any process of any node. */
  getUpstreamBudget(repo: string): Promise<SharedBudget | undefined>;
  /** Records an announcement; an older one (by observedAt) never replaces a newer, and a block only grows. */
  setUpstreamBudget(repo: string, budget: SharedBudget): Promise<void>;
  getNegative(repo: string, path: string): Promise<number | undefined>;
  clearNegative(repo: string, path: string): Promise<void>;
  /** Digests of the blobs any repository refers to, in order, after `after` (pagination). */
  listBlobDigests(after: string, limit: number): Promise<string[]>;
  /** The distinct blobs that any repository refers to whose digest starts with `prefix` (two hex digits). */
  blobDigestsWithPrefix(prefix: string): Promise<string[]>;
  /** How many paths, in all repositories, refer to the blob. */
  blobReferences(sha256: string): Promise<number>;
  /** Blobs stored without their sha1, md5 and sha512, still to be computed (see DeferredDigests), in order after `after`. */
  blobsAwaitingDigests(after: string, limit: number): Promise<string[]>;
  /** Records a blob's sha1, md5 and sha512, computed after it was stored. */
  setOtherDigests(sha256: string, digests: OtherDigests): Promise<void>;
  /** Drops the checksum records of blobs with this digest prefix that no repository refers to any more. */
  forgetUnreferencedBlobs(prefix: string): Promise<number>;
  /** Files, bytes and cache results of every repository that has held or served something. */
  repositoryUsage(): Promise<RepositoryUsage[]>;
  usageOf(repo: string): Promise<RepositoryUsage>;
  /** The repositories' files, least recently downloaded (or, never downloaded, stored) first. */
  leastRecentlyUsed(repos: string[], limit: number): Promise<ArtifactRecord[]>;
  /**
   * Takes (or extends, for its holder) the named cluster-wide lease for `ttlMs`; false while another holder's
   * lease has not expired. Jobs that must run once at a time (GC, eviction) hold one.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** Who holds a lease now (expired or not), if anyone. */
  leaseHolder(name: string): Promise<string | undefined>;
  /** Takes a lease over from `from` (a holder known to be dead), unless someone else took it meanwhile. */
  takeOverLease(name: string, from: string, holder: string, ttlMs: number): Promise<boolean>;
  /**
   * Claims the fetch `name` for `holder` for `ttlMs`, unless another holder's claim is live: neither expired
   * nor ended. A claim taken starts with nothing announced.
   */
  claimFetch(name: string, holder: string, ttlMs: number): Promise<FetchClaim>;
  /** The claim as it stands, without taking it; `live`: neither expired nor ended. */
  fetchClaim(name: string): Promise<{ holder: string; head?: string; end?: string; live: boolean } | undefined>;
  /** Extends a live claim of the holder's. */
  renewFetch(name: string, holder: string, ttlMs: number): Promise<void>;
  /** The holder announces the fetch's head (`end` undefined) or its end, which is kept `keepMs` for followers. */
  announceFetch(name: string, holder: string, head: string | undefined, end: string | undefined, keepMs: number): Promise<void>;
  /** Drops claims expired before `before`. */
  forgetFetches(before: number): Promise<void>;
  /** Total bytes of distinct blobs referenced by any repository. */
  storageBytes(): Promise<number>;
  /** The bundles imported here, oldest first. */
  importedBundles(): Promise<ImportedBundle[]>;
  /**
   * Records a bundle's artifacts (their blobs already in the store) and the bundle itself, in one
   * transaction: all of them become visible at once, or none.
   */
  applyBundle(bundle: BundleApplied, artifacts: BundledArtifact[]): Promise<void>;
  /** Each replication's progress: its last bundle and run. */
  replicationStates(): Promise<ReplicationState[]>;
  recordReplicationRun(name: string, run: ReplicationRun): Promise<void>;
  /** Records that the node is alive (every worker of it sends the same record). */
  heartbeat(node: NodeRecord): Promise<void>;
  /** The nodes heard from since `since`, by id. */
  listNodes(since: number): Promise<NodeRecord[]>;
  /** Proves the index can be written (readiness). */
  ping(): Promise<void>;
  /** Writes a consistent copy of the whole index to `file` while it is in use (backups). */
  snapshot(file: string): Promise<void>;
  close(): Promise<void>;
}
