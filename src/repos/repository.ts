import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Format, RepositoryConfig } from '../config/schema.js';
import type { Checksums, StoredDigests } from '../storage/checksums.js';
import type { BlobExpectation, ByteRange, BlobStore, StoredBlob } from '../storage/blob-store.js';
import type { DeferredDigests } from '../storage/deferred-digests.js';
import type { ArtifactRecord, ListOptions, MetadataIndex, OverwritePolicy } from '../storage/metadata-index.js';
import type { FlightCoordinator } from './flights.js';

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED';

/** A file a repository can serve: its description and a way to read its bytes. */
export interface Artifact {
  /** The repository that holds it (for a virtual repository: the member that answered). */
  repo: string;
  path: string;
  contentType: string;
  /** Unknown while a miss streams from an upstream that sent no Content-Length. */
  size?: number;
  /** Unknown while a miss is still streaming from upstream. */
  checksums?: StoredDigests;
  /**
   * While a miss streams: the digests it is being verified against (from the format's metadata or the
   * upstream's headers); a body that does not match never arrives whole.
   */
  expectedChecksums?: Partial<Checksums>;
  lastModified?: number;
  cacheStatus?: CacheStatus;
  open(range?: ByteRange): Promise<Readable>;
  /** The bytes in one buffer; offered for small stored files, where a stream costs more than the read. */
  read?(range?: ByteRange): Promise<Buffer>;
  /** Throws unless the stored bytes are there: a HEAD, which reads none, must not answer 200 for lost content. */
  check?(): Promise<void>;
  /** The stored file relative to the blob directory, when it may be sent unchecked (see BlobStore.trustedFile). */
  trustedFile?(): Promise<string | undefined>;
}

/** Stored files up to this size are sent from one buffer rather than streamed. */
export const SMALL_FILE_BYTES = 1024 * 1024;

export interface GetOptions {
  /** What the format knows the content must be (e.g. an npm tarball's integrity); checked before caching. */
  expect?: BlobExpectation;
  /** Where a remote repository's upstream keeps this file, when the format learnt it from metadata (npm's `dist.tarball`). */
  upstream?: UpstreamTarget;
}

export interface PutOptions {
  contentType: string;
  expect?: BlobExpectation;
  maxBytes?: number;
}

/** How a remote repository asks its upstream for one repository path. */
export interface UpstreamTarget {
  /** Relative to the upstream URL and already percent-encoded, or an absolute URL. */
  path: string;
  headers?: Record<string, string>;
  /** The token scope the upstream will demand for this request (Docker's `repository:<name>:pull`). */
  authScope?: string;
}

/** The per-format rules the engine consults; each format supplies one per repository (see formats/). */
export interface FormatRules {
  /** How long cached content is fresh before it is revalidated upstream; null: immutable, cached forever. */
  freshForSeconds(path: string): number | null;
  /** Content type to record when neither the client nor the upstream says. */
  defaultContentType(path: string): string;
  /** What a deploy over an existing path may do (the release-repo rule is `same-content-only`). */
  overwritePolicy(path: string): OverwritePolicy;
  /** Where the upstream keeps a path; by default the same path below the upstream URL. */
  upstreamTarget?(path: string): UpstreamTarget;
  /**
   * The response header in which the upstream names a path's digest (`sha256:<hex>`), for paths where it
   * does. It is verified against the body, and cached mutable content is revalidated with a HEAD that
   * compares it; paths without one are revalidated with a conditional GET.
   */
  digestHeader?(path: string): string | undefined;
  /**
   * Whether cached content's sha1, md5 and sha512 are computed after it is stored rather than while it
   * streams to the client (see DeferredDigests): for formats whose protocol names content by sha256 only.
   */
  otherDigestsLater?: boolean;
}

/** Hooks for metrics about upstream traffic, so the engine need not know how they are exported. */
export interface UpstreamObserver {
  /** `outcome` is the HTTP status, or "error" when no answer came. */
  response(repo: string, outcome: string): void;
  bytes(repo: string, count: number): void;
  /** A fetch that failed after the upstream answered or while it sent: `code` says how (DIGEST_MISMATCH, …). */
  failure(repo: string, code: string): void;
}

/** What every repository is built from. */
export interface RepoContext {
  blobs: BlobStore;
  index: MetadataIndex;
  flights: FlightCoordinator;
  log: Logger;
  upstreamObserver: UpstreamObserver;
  /** Told each time a remote repository stores a file in its cache (which may now be over its limit). */
  cacheGrew?(): void;
  /** Computes the other digests of what was stored with sha256 only; without it, all are computed as it is written. */
  deferredDigests?: DeferredDigests;
}

export interface Repository {
  readonly key: string;
  readonly format: Format;
  readonly type: RepositoryConfig['type'];
  readonly config: RepositoryConfig;
  get(path: string, options?: GetOptions): Promise<Artifact | undefined>;
  put(path: string, source: AsyncIterable<Buffer> | Iterable<Buffer>, options: PutOptions): Promise<ArtifactRecord>;
  delete(path: string): Promise<void>;
  /** The index entry for a path, following virtual members in order. */
  record(path: string): Promise<ArtifactRecord | undefined>;
  /** Records already-stored content at a path without copying bytes (promotion, mounts, aliases). */
  link(path: string, blob: StoredBlob, contentType: string): Promise<ArtifactRecord>;
  /** What the repository holds (hosted or cached), in path order; a virtual repository merges its members. */
  list(options?: ListOptions): Promise<ArtifactRecord[]>;
}

/** An Artifact backed by a stored blob. */
export function storedArtifact(blobs: BlobStore, record: ArtifactRecord, cacheStatus?: CacheStatus): Artifact {
  const { sha256, size, sha1, md5, sha512 } = record.blob;
  return {
    repo: record.repo,
    path: record.path,
    contentType: record.contentType,
    size,
    checksums: { sha256, sha1, md5, sha512 },
    lastModified: record.modifiedAt,
    ...(cacheStatus && { cacheStatus }),
    open: (range) => blobs.open(sha256, range),
    ...(size <= SMALL_FILE_BYTES && { read: (range?: ByteRange) => blobs.read(sha256, size, range) }),
    check: () => blobs.requirePresent(sha256),
    trustedFile: () => blobs.trustedFile(sha256, size),
  };
}
