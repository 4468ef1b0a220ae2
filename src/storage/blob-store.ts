import { mapBounded } from '../concurrency.js';
import { isProcessRunning } from '../process-alive.js';
import { createHash, randomUUID, webcrypto } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { ShelfError } from '../errors.js';
import { findMismatch, isHexDigest, MultiHasher, type Checksums, type OtherDigests, type StoredDigests } from './checksums.js';
import type { BlobPlace, BlobStat, SweepOutcome } from './blob-place.js';
import { DiskBlobPlace } from './disk-blob-place.js';
import type { DiskGuard } from './disk-guard.js';
import { RecentlyVerifiedFiles, TRUST_MIN_BYTES, VerifiedBlobCache } from './verified-blob-cache.js';

/**
 * Computes a blob's sha1, md5 and sha512 away from the event loop, from its temp file as it is written:
 * the one loop of a serving process then hashes only sha256 (which names and verifies the content), and a
 * large download costs it a quarter of the hashing.
 */
export interface OtherDigestsElsewhere {
  follow(path: string): DigestFollower;
}

export interface DigestFollower {
  /** The file at the path now holds this many bytes (written, not just queued). */
  wrote(bytes: number): void;
  /** Nothing more will be written: the digests of all the bytes. */
  finished(): Promise<OtherDigests>;
  /** The write failed or was refused: stop, nothing is wanted. */
  abandon(): void;
}

/** Appended bytes a writer holds in memory at most before its source has to wait for the disk. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** Writes all of `buffers` at the file's position, however many calls that takes; resolves to the bytes written. */
async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<number> {
  const total = buffers.reduce((sum, b) => sum + b.length, 0);
  let left = buffers;
  for (let done = 0; done < total; ) {
    const { bytesWritten } = await handle.writev(left);
    done += bytesWritten;
    left = skipBytes(left, bytesWritten);
  }
  return total;
}

function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && count >= buffers[i]!.length) count -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (count > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(count);
  return rest;
}

/** A writer hands its other digests off, or leaves them for later, once this many bytes have come (it costs more for less). */
const INLINE_DIGEST_BYTES = 1024 * 1024;

/** Above this, a buffer is hashed on libuv's thread pool (WebCrypto) rather than on the event loop. */
const LOOP_HASH_MAX_BYTES = 64 * 1024;

async function sha256Of(bytes: Buffer): Promise<string> {
  if (bytes.length <= LOOP_HASH_MAX_BYTES) return createHash('sha256').update(bytes).digest('hex');
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

/** A stored blob: its sha1, md5 and sha512 are missing while they are computed after it was stored (see DeferredDigests). */
export type StoredBlob = StoredDigests & { size: number };

/** A stored blob with all its digests. */
export type CompleteBlob = Checksums & { size: number };

/** What the writer expects of the content; any mismatch aborts the write and stores nothing. */
export interface BlobExpectation extends Partial<Checksums> {
  size?: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP. */
  end: number;
}

export interface BlobWriteOptions {
  expect?: BlobExpectation;
  /**
   * The other digests of content expected to have `expect.sha256`, from a source that signs them (a bundle
   * manifest): only sha256 is computed, and it must match.
   */
  knownDigests?: OtherDigests;
  /** Refuse content larger than this many bytes. */
  maxBytes?: number;
  /**
   * Past INLINE_DIGEST_BYTES, compute only sha256 while writing, unless another digest is expected: the
   * others are computed once the blob is stored (see DeferredDigests), so that a client waiting for the
   * content neither shares the CPU with them nor waits for them at the end.
   */
  otherDigestsLater?: boolean;
}

export class DigestMismatchError extends ShelfError {
  constructor(readonly algorithm: string, expected: string, actual: string) {
    super('DIGEST_MISMATCH', 400, `${algorithm} of the content is ${actual}, expected ${expected}`);
  }
}

export class SizeMismatchError extends ShelfError {
  constructor(expected: number, actual: number) {
    super('SIZE_MISMATCH', 400, `content is ${actual} bytes, expected ${expected}`);
  }
}

/** Indexed content whose blob file is gone: a server-side fault, never "not found" (which a client would trust). */
export class MissingBlobError extends ShelfError {
  constructor(readonly sha256: string) {
    super('BLOB_MISSING', 500, `stored content sha256:${sha256} is missing from the blob store; run shelf storage verify --repair`);
  }
}

/** A blob whose bytes no longer hash to its name; it has been moved to quarantine and is not served. */
export class CorruptBlobError extends ShelfError {
  constructor(readonly sha256: string, actual: string) {
    super('BLOB_CORRUPT', 500, `stored content sha256:${sha256} is damaged on disk (it hashes to ${actual}); it was quarantined`);
  }
}

export class TooLargeError extends ShelfError {
  constructor(limit: number) {
    super('TOO_LARGE', 413, `content exceeds the limit of ${limit} bytes`);
  }
}

/** The folders blobs are spread over: the first two hex digits of their digest, in order. */
export const BLOB_PREFIXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Temp files are named `<host>.<pid>-…` after their writer: in a directory several nodes share, each node
 * knows which are its own, and whether their writer still runs.
 */
const HOST_TAG = hostname().replace(/[^A-Za-z0-9.-]/g, '_');
export const tempOwner = (pid = process.pid) => `${HOST_TAG}.${pid}`;
/** Another host's temp file untouched this long is abandoned (its writer would have kept writing to it). */
const FOREIGN_TEMP_FILE_MS = 24 * 3600_000;

async function isAbandonedTempFile(name: string, path: string): Promise<boolean> {
  const owner = /^(.+)\.(\d+)-/.exec(name);
  if (owner?.[1] === HOST_TAG) return !isProcessRunning(Number(owner[2]));
  const stats = await stat(path).catch(() => undefined);
  return stats !== undefined && Date.now() - stats.mtimeMs > FOREIGN_TEMP_FILE_MS;
}

/** Where a blob store rooted at `root` keeps its blob files on disk (by the first two hex digits, then the digest). */
export const blobDirOf = (root: string) => join(root, 'sha256');
/** Where a blob store rooted at `root` writes its temp files, wherever it keeps blobs. */
export const tempDirOf = (root: string) => join(root, 'tmp');

export interface BlobStoreOptions {
  /** How many bytes of small, verified blobs this process keeps in memory (see VerifiedBlobCache). */
  memoryCacheBytes?: number;
  /** How long a large blob verified whole, and unchanged since, is streamed unhashed (see RecentlyVerifiedFiles). */
  trustVerifiedSeconds?: number;
  /** Where large writes' other digests are computed; none: inline. */
  otherDigests?: OtherDigestsElsewhere;
}

/**
 * Content-addressed blobs: written to a temp file under `root` (hashed, checked against what the caller
 * expects, then handed to the place where blobs are kept: a directory on disk or an S3 bucket), so a reader
 * never sees half a blob and a crash leaves only temp files behind. Everything read back is verified.
 */
export class BlobStore<Place extends BlobPlace = BlobPlace> {
  readonly tempDir: string;
  private readonly verified: VerifiedBlobCache;
  private readonly verifiedFiles: RecentlyVerifiedFiles;
  private readonly otherDigests: OtherDigestsElsewhere | undefined;

  /** Blobs on disk under `root` (sha256/), with temp files beside them in tmp/ and damaged ones in quarantine/. */
  static onDisk(root: string, guard?: DiskGuard, options: BlobStoreOptions = {}): BlobStore<DiskBlobPlace> {
    return new BlobStore(root, new DiskBlobPlace(blobDirOf(root), tempDirOf(root), join(root, 'quarantine')), guard, options);
  }

  constructor(
    root: string,
    readonly place: Place,
    /** Refuses new blobs while the disk is low; none: only a full disk stops writes. */
    private readonly guard?: DiskGuard,
    options: BlobStoreOptions = {},
  ) {
    this.verified = new VerifiedBlobCache(options.memoryCacheBytes ?? 0);
    this.verifiedFiles = new RecentlyVerifiedFiles(options.trustVerifiedSeconds ?? 0);
    this.otherDigests = options.otherDigests;
    this.tempDir = tempDirOf(root);
  }

  async init(): Promise<void> {
    await mkdir(this.tempDir, { recursive: true });
    await this.place.init();
  }

  /**
   * Removes what interrupted writes left behind: the temp files of one process that has died, or (at
   * start-up) those of every process of this host that no longer runs. Nodes sharing the directory each
   * clean up after their own processes; another host's temp files go only when untouched for a day.
   */
  async removeTempFiles(ofPid?: number): Promise<number> {
    const names = await readdir(this.tempDir);
    const abandoned = ofPid === undefined && (await mapBounded(names, 16, (name) => isAbandonedTempFile(name, join(this.tempDir, name))));
    const gone = abandoned ? names.filter((_, i) => abandoned[i]) : names.filter((name) => name.startsWith(`${tempOwner(ofPid)}-`));
    await mapBounded(gone, 16, (name) => rm(join(this.tempDir, name), { force: true }));
    return gone.length;
  }

  async has(sha256: string): Promise<boolean> {
    requireDigest(sha256);
    return this.verified.has(sha256) || (await this.place.has(sha256));
  }

  /**
   * A stream of the blob's bytes (or of one range of them); fails with MissingBlobError when absent. A whole
   * blob is hashed as it streams: when the bytes turn out not to match, the blob is quarantined and the
   * stream fails at its end, so the client's transfer breaks off instead of completing with damaged bytes.
   * (A range is not checked: that would mean reading the whole blob for every part of it.) A blob this
   * process verified recently and that is unchanged since is not hashed again (see RecentlyVerifiedFiles).
   */
  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    requireDigest(sha256);
    const { stream, identity } = await this.place.stream(sha256, range, !range && this.verifiedFiles.enabled);
    if (range || this.verifiedFiles.isTrusted(sha256, identity)) return stream;
    const hash = createHash('sha256');
    // The latest chunk is held back until the previous ones are passed on, and the last one until the whole
    // blob has hashed right: a damaged blob's transfer then ends short, which every client notices.
    let held: Buffer | undefined;
    const verifier = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        const previous = held;
        held = chunk;
        done(null, previous);
      },
      flush: (done) => {
        const actual = hash.digest('hex');
        if (actual === sha256) {
          this.verifiedFiles.verified(sha256, identity);
          return done(null, held);
        }
        void this.quarantine(sha256).finally(() => done(new CorruptBlobError(sha256, actual)));
      },
    });
    stream.on('error', (err) => verifier.destroy(err));
    return stream.pipe(verifier);
  }

  /**
   * The blob's file, relative to the blob directory, when another server may send it unchecked: it is on
   * disk, this process verified it whole, and it is unchanged since (see RecentlyVerifiedFiles). Otherwise
   * undefined, and the caller streams it through `open`, which verifies it (and so makes it trusted for next time).
   */
  async trustedFile(sha256: string, size: number): Promise<string | undefined> {
    if (size < TRUST_MIN_BYTES || !this.place.localFile || !this.verifiedFiles.enabled) return undefined;
    requireDigest(sha256);
    const file = await this.place.localFile(sha256);
    return file && this.verifiedFiles.isTrusted(sha256, file.identity) ? file.relativePath : undefined;
  }

  /**
   * A small blob's bytes (or one range of them) in one buffer. The whole blob is read and verified before
   * anything is returned; a damaged one is quarantined (CorruptBlobError). Verified bytes are kept in
   * memory (within memoryCacheBytes) and served from there next time.
   */
  async read(sha256: string, size: number, range?: ByteRange): Promise<Buffer> {
    let buffer = this.verified.get(sha256);
    if (!buffer) {
      buffer = await this.readVerified(sha256, size);
      this.verified.remember(sha256, buffer);
    }
    return range ? buffer.subarray(range.start, range.end + 1) : buffer;
  }

  private async readVerified(sha256: string, size: number): Promise<Buffer> {
    requireDigest(sha256);
    const { bytes, identity } = await this.place.read(sha256, size, size >= TRUST_MIN_BYTES && this.verifiedFiles.enabled);
    const actual = await sha256Of(bytes);
    if (actual !== sha256 || bytes.length !== size) {
      await this.quarantine(sha256);
      throw new CorruptBlobError(sha256, actual);
    }
    this.verifiedFiles.verified(sha256, identity);
    return bytes;
  }

  /** Whether the blob is there; an indexed path whose blob is not must not be answered as present. */
  async requirePresent(sha256: string): Promise<void> {
    if (!(await this.has(sha256))) throw new MissingBlobError(sha256);
  }

  /** Moves a damaged blob out of service; the next writer of the same content stores it afresh. */
  async quarantine(sha256: string): Promise<void> {
    requireDigest(sha256);
    this.forget(sha256);
    await this.place.quarantine(sha256);
  }

  private forget(sha256: string): void {
    this.verified.forget(sha256);
    this.verifiedFiles.forget(sha256);
  }

  /** The stored blobs in one prefix folder (see BLOB_PREFIXES), by digest. */
  listPrefix(prefix: string): Promise<string[]> {
    return this.place.list(prefix);
  }

  statBlob(sha256: string): Promise<BlobStat | undefined> {
    requireDigest(sha256);
    return this.place.stat(sha256);
  }

  /**
   * Marks an existing blob as just used, before the index is given a new reference to it without the blob
   * being written again (a link, a mount): a garbage collection sweeping now then keeps it (see sweep).
   */
  touch(sha256: string): Promise<void> {
    requireDigest(sha256);
    return this.place.touch(sha256);
  }

  /**
   * Deletes a blob the caller found unreferenced, unless it was written or touched at or after
   * `notModifiedSince` ('young'), or `stillNeeded()` says it has been referenced meanwhile ('needed'); a
   * writer or a link racing with the sweep never loses its blob (see the places' sweep). With `dryRun`,
   * says what it would do. Resolves to the bytes freed (undefined: there was nothing to sweep).
   */
  async sweep(sha256: string, notModifiedSince: number, stillNeeded: () => Promise<boolean>, dryRun = false): Promise<SweepOutcome> {
    requireDigest(sha256);
    const outcome = await this.place.sweep(sha256, notModifiedSince, stillNeeded, dryRun);
    if (!dryRun && (typeof outcome === 'number' || outcome === undefined)) this.forget(sha256);
    return outcome;
  }

  /** Runs `use` with a local file holding the blob's bytes (for hashing it in a worker thread); MissingBlobError when absent. */
  withLocalFile<T>(sha256: string, use: (path: string) => Promise<T>): Promise<T> {
    requireDigest(sha256);
    return this.place.withLocalFile(sha256, use);
  }

  /** Streams `source` into the store; resolves once the blob is durable and visible under its digest. */
  async write(source: AsyncIterable<Buffer> | Iterable<Buffer>, options: BlobWriteOptions = {}): Promise<StoredBlob> {
    const writer = await this.createWriter(options);
    try {
      for await (const chunk of source) await writer.append(chunk);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return writer.commit();
  }

  /**
   * Stores a complete file whose digests the caller has computed (e.g. a finished resumable upload, hashed
   * in a worker thread). The file must be on the temp directory's filesystem; it is moved or consumed.
   */
  async adopt(path: string, blob: StoredBlob): Promise<void> {
    if (this.place.keepsTempFiles) {
      const handle = await open(path, 'r+');
      try {
        // Written over a long time perhaps, but stored now: a sweep must see it as new.
        const now = new Date();
        await handle.utimes(now, now);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await this.place.put(path, blob.sha256, blob.size);
  }

  /** Throws 507 while the data disk has less free space than the guard demands. */
  async ensureSpace(): Promise<void> {
    await this.guard?.check();
  }

  /** A writer the caller feeds chunk by chunk; others may read its temp file while it grows. */
  async createWriter(options: BlobWriteOptions = {}): Promise<BlobWriter> {
    await this.ensureSpace();
    const tempPath = join(this.tempDir, `${tempOwner()}-${randomUUID()}.part`);
    const handle = await open(tempPath, 'wx');
    return new BlobWriter(this.place, handle, tempPath, options, this.otherDigests);
  }
}

/** A blob's name must be a sha256 in hex: anything else (a path, `..`) is refused before it names a file or a key. */
export function requireDigest(sha256: string): void {
  if (!isHexDigest('sha256', sha256)) throw new ShelfError('DIGEST_INVALID', 400, `not a sha256 digest: ${sha256}`);
}

export class BlobWriter {
  private readonly hasher: MultiHasher;
  private follower: DigestFollower | undefined;
  private finished = false;
  /** Appended, not yet handed to the disk: written together (writev) while the next chunks arrive. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushing: Promise<void> | undefined;
  /** Bytes on disk (in the temp file). */
  private flushed = 0;
  private failure: unknown;

  constructor(
    private readonly place: BlobPlace,
    private readonly handle: FileHandle,
    readonly tempPath: string,
    private readonly options: BlobWriteOptions,
    private readonly otherDigests?: OtherDigestsElsewhere,
  ) {
    if (options.knownDigests && options.expect?.sha256 === undefined) throw new Error('known digests need an expected sha256 to be checked by');
    this.hasher = new MultiHasher(options.knownDigests);
  }

  async append(chunk: Buffer): Promise<void> {
    const limit = this.options.maxBytes;
    if (limit !== undefined && this.hasher.size + chunk.length > limit) throw new TooLargeError(limit);
    const expectedSize = this.options.expect?.size;
    if (expectedSize !== undefined && this.hasher.size + chunk.length > expectedSize) {
      throw new SizeMismatchError(expectedSize, this.hasher.size + chunk.length);
    }
    if (this.failure) throw this.failure;
    this.hasher.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.flushing ??= this.flush();
    // The source waits only while the disk is behind by this much.
    if (this.pendingBytes >= MAX_PENDING_BYTES) await this.flushing;
  }

  /** Writes what is pending, and what is appended meanwhile, until nothing is. */
  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
        this.flushed += await writeAll(this.handle, batch);
        if (this.hasher.computesOthers && this.flushed > INLINE_DIGEST_BYTES) this.stopComputingOthers();
        this.follower?.wrote(this.flushed);
      }
    } catch (err) {
      this.failure = err;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Past INLINE_DIGEST_BYTES, the other digests are left for later when allowed, else computed by a thread. */
  private stopComputingOthers(): void {
    const { expect = {}, otherDigestsLater } = this.options;
    const othersExpected = expect.sha1 !== undefined || expect.md5 !== undefined || expect.sha512 !== undefined;
    if (otherDigestsLater && !othersExpected) {
      this.hasher.leaveOthersForLater();
    } else if (this.otherDigests) {
      this.hasher.handOffOthers();
      this.follower = this.otherDigests.follow(this.tempPath);
    }
  }

  /** Everything appended is on disk, or the write's failure is thrown. */
  private async drained(): Promise<void> {
    await this.flushing;
    if (this.failure) throw this.failure;
  }

  /** Verifies what was written against the expectation, then makes it visible by its sha256. */
  async commit(): Promise<StoredBlob> {
    if (this.finished) throw new Error('blob writer already finished');
    this.finished = true;
    try {
      await this.drained();
      // A file that becomes the blob is made durable while the thread that follows it finishes the other digests.
      const [others] = await Promise.all([this.follower?.finished(), this.place.keepsTempFiles && this.handle.sync()]);
      const checksums = this.hasher.digest(others);
      const expect = this.options.expect ?? {};
      if (expect.size !== undefined && expect.size !== this.hasher.size) {
        throw new SizeMismatchError(expect.size, this.hasher.size);
      }
      const mismatch = findMismatch(checksums, expect);
      if (mismatch) throw new DigestMismatchError(mismatch, expect[mismatch]!, checksums[mismatch] ?? 'not computed');
      await this.handle.close();
      await this.place.put(this.tempPath, checksums.sha256, this.hasher.size);
      return { ...checksums, size: this.hasher.size };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    this.follower?.abandon();
    await this.flushing;
    await this.handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }
}
