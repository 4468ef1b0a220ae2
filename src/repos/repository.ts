import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Format, RepositoryConfig } from '../config/schema.js';
import type { Checksums } from '../storage/checksums.js';
import type { BlobExpectation, ByteRange, FsBlobStore } from '../storage/blob-store.js';
import type { ArtifactRecord, MetadataIndex } from '../storage/metadata-index.js';
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
  checksums?: Checksums;
  lastModified?: number;
  cacheStatus?: CacheStatus;
  open(range?: ByteRange): Promise<Readable>;
}

export interface GetOptions {
  /** What the format knows the content must be (e.g. an npm tarball's integrity); checked before caching. */
  expect?: BlobExpectation;
}

export interface PutOptions {
  contentType: string;
  expect?: BlobExpectation;
  maxBytes?: number;
}

/** The per-format rules the engine consults; each format supplies one (see formats/). */
export interface FormatRules {
  /** Immutable content is cached forever; mutable content is revalidated after `metadataTtlSeconds`. */
  isImmutable(path: string): boolean;
  /** Content type to record when neither the client nor the upstream says. */
  defaultContentType(path: string): string;
}

/** Hooks for metrics about upstream traffic, so the engine need not know how they are exported. */
export interface UpstreamObserver {
  /** `outcome` is the HTTP status, or "error" when no answer came. */
  response(repo: string, outcome: string): void;
  bytes(repo: string, count: number): void;
}

/** What every repository is built from. */
export interface RepoContext {
  blobs: FsBlobStore;
  index: MetadataIndex;
  flights: FlightCoordinator;
  log: Logger;
  upstreamObserver: UpstreamObserver;
}

export interface Repository {
  readonly key: string;
  readonly format: Format;
  readonly type: RepositoryConfig['type'];
  readonly config: RepositoryConfig;
  get(path: string, options?: GetOptions): Promise<Artifact | undefined>;
  put(path: string, source: AsyncIterable<Buffer>, options: PutOptions): Promise<ArtifactRecord>;
  delete(path: string): Promise<void>;
  /** The index entry for a path, following virtual members in order. */
  record(path: string): Promise<ArtifactRecord | undefined>;
}

/** An Artifact backed by a stored blob. */
export function storedArtifact(blobs: FsBlobStore, record: ArtifactRecord, cacheStatus?: CacheStatus): Artifact {
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
  };
}
