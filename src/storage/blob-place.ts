import type { Readable } from 'node:stream';
import type { ByteRange } from './blob-store.js';

/** What `stat` says of a stored blob: its size and when it was last written or touched. */
export interface BlobStat {
  size: number;
  mtimeMs: number;
}

/** What a sweep did with an unreferenced blob (see BlobStore.sweep); undefined: nothing was there to sweep. */
export type SweepOutcome = number | 'young' | 'needed' | undefined;

/**
 * Where complete, verified blobs are kept, by sha256: a directory on disk (DiskBlobPlace) or an S3 bucket
 * (S3BlobPlace). Blobs are written to local temp files first, hashed and checked there (BlobWriter); a place
 * only stores finished files and hands bytes back. Verifying what it hands back is the blob store's job.
 */
export interface BlobPlace {
  /** For readiness and logs: `filesystem` or `s3`. */
  readonly kind: 'filesystem' | 's3';
  /** Whether a finished temp file becomes the stored blob itself, and so must be made durable first. */
  readonly keepsTempFiles: boolean;
  init(): Promise<void>;
  /** Throws, saying why, when blobs can be neither stored nor read (for readiness). */
  ping(): Promise<void>;
  /** Stores the finished file at `file` as blob `sha256`; the file is moved or consumed. Storing a blob again is harmless. */
  put(file: string, sha256: string, size: number): Promise<void>;
  /**
   * The blob's bytes, or one range of them; MissingBlobError when absent. `identity` changes whenever the
   * stored bytes may have (see RecentlyVerifiedFiles); asked for only when `wantIdentity`.
   */
  stream(sha256: string, range: ByteRange | undefined, wantIdentity: boolean): Promise<{ stream: Readable; identity?: string }>;
  /** The whole blob in one buffer (at most `size` bytes are read); MissingBlobError when absent. */
  read(sha256: string, size: number, wantIdentity: boolean): Promise<{ bytes: Buffer; identity?: string }>;
  /** Whether a reader would find the blob (a place may bring one back that a sweep held aside). */
  has(sha256: string): Promise<boolean>;
  /** Size and age of the stored blob, as it stands (nothing brought back); undefined when absent. */
  stat(sha256: string): Promise<BlobStat | undefined>;
  /** Renews the blob's age, before the index is given a new reference to it; MissingBlobError when absent. */
  touch(sha256: string): Promise<void>;
  /** The digests stored under one prefix (see BLOB_PREFIXES), including any a sweep holds aside. */
  list(prefix: string): Promise<string[]>;
  /** Takes a damaged blob out of service, keeping it for inspection. */
  quarantine(sha256: string): Promise<void>;
  /**
   * Deletes an unreferenced blob unless it was written or touched at or after `notModifiedSince` ('young')
   * or `stillNeeded()` says it is referenced again ('needed'); a write or touch racing with it must never
   * lose its blob. With `dryRun`, only says what it would do. Resolves to the bytes freed.
   */
  sweep(sha256: string, notModifiedSince: number, stillNeeded: () => Promise<boolean>, dryRun: boolean): Promise<SweepOutcome>;
  /** Runs `use` with a local file that holds the blob's bytes: the blob file itself, or a copy made for it. */
  withLocalFile<T>(sha256: string, use: (path: string) => Promise<T>): Promise<T>;
  /**
   * The blob's file on this host, relative to the blob directory, for a front server to send
   * (X-Accel-Redirect), with its identity; only a place on disk has files. Undefined when absent.
   */
  localFile?(sha256: string): Promise<{ relativePath: string; identity: string } | undefined>;
}
