import type { StoredBlob } from './blob-store.js';

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

export type PutResult = { stored: ArtifactRecord } | { conflict: ArtifactRecord };

export type Properties = Record<string, string[]>;

export interface DownloadTally {
  repo: string;
  path: string;
  count: number;
  lastAt: number;
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

export interface UpstreamOutage {
  until: number;
  reason: string;
}

export type ChecksumQuery = { sha256: string } | { sha1: string } | { md5: string };

/**
 * Where Shelf records what each repository holds at each path. Async so that a networked implementation
 * (PostgreSQL, for HA) can satisfy it as well as the embedded SQLite one.
 */
export interface MetadataIndex {
  getArtifact(repo: string, path: string): Promise<ArtifactRecord | undefined>;
  /** Atomically checks the overwrite policy and records the artifact. */
  putArtifact(artifact: NewArtifact, policy: OverwritePolicy): Promise<PutResult>;
  deleteArtifact(repo: string, path: string): Promise<boolean>;
  listArtifacts(repo: string, options?: ListOptions): Promise<ArtifactRecord[]>;
  updateCacheState(repo: string, path: string, state: CacheState): Promise<void>;
  recordDownloads(tallies: DownloadTally[]): Promise<void>;
  getProperties(repo: string, path: string): Promise<Properties>;
  /** Replaces the values of the keys given; other keys are kept. */
  setProperties(repo: string, path: string, properties: Properties): Promise<void>;
  deleteProperties(repo: string, path: string, keys: string[]): Promise<void>;
  findByChecksum(query: ChecksumQuery): Promise<ArtifactRecord[]>;
  /** Remembers that the upstream has no such path, until `expiresAt`. */
  putNegative(repo: string, path: string, expiresAt: number): Promise<void>;
  /** A remote repository's upstream as every worker sees it: assumed offline until when, and why (undefined: online). */
  getUpstreamOutage(repo: string): Promise<UpstreamOutage | undefined>;
  /** Records that the upstream failed (or, with undefined, that it answered again). */
  setUpstreamOutage(repo: string, outage: UpstreamOutage | undefined): Promise<void>;
  getNegative(repo: string, path: string): Promise<number | undefined>;
  clearNegative(repo: string, path: string): Promise<void>;
  /** Digests of the blobs any repository refers to, in order, after `after` (pagination). */
  listBlobDigests(after: string, limit: number): Promise<string[]>;
  /** Total bytes of distinct blobs referenced by any repository. */
  storageBytes(): Promise<number>;
  /** Proves the index can be written (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
