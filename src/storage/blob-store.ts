import { mapBounded } from '../concurrency.js';
import { isProcessRunning } from '../process-alive.js';
import { createHash, randomUUID, webcrypto } from 'node:crypto';
import { createReadStream, constants as fsConstants } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { Transform, type Readable } from 'node:stream';
import { ShelfError } from '../errors.js';
import { findMismatch, isHexDigest, MultiHasher, type Checksums, type OtherDigests, type StoredDigests } from './checksums.js';
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

/** How often, and how far apart, `touch` looks for a blob a sweep may be holding aside. */
const TOUCH_ATTEMPTS = 5;
const TOUCH_RETRY_MS = 50;

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err;
};

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

/** Where a blob store rooted at `root` keeps its blob files (by the first two hex digits, then the digest). */
export const blobDirOf = (root: string) => join(root, 'sha256');

/**
 * Content-addressed blobs on local disk. A blob lives at sha256/<2 hex>/<64 hex>; it appears there only
 * once complete, verified and fsynced (written to tmp/ on the same filesystem, then renamed), so a reader
 * never sees half a file and a crash leaves only temp files behind.
 */
export class FsBlobStore {
  readonly blobDir: string;
  readonly tempDir: string;
  /** Where blobs found damaged are moved, out of service but kept for inspection. */
  readonly quarantineDir: string;
  private readonly verified: VerifiedBlobCache;
  private readonly verifiedFiles: RecentlyVerifiedFiles;
  private readonly otherDigests: OtherDigestsElsewhere | undefined;

  constructor(
    root: string,
    /** Refuses new blobs while the disk is low; none: only a full disk stops writes. */
    private readonly guard?: DiskGuard,
    options: {
      /** How many bytes of small, verified blobs this process keeps in memory (see VerifiedBlobCache). */
      memoryCacheBytes?: number;
      /** How long a large blob file verified whole, and unchanged since, is streamed unhashed (see RecentlyVerifiedFiles). */
      trustVerifiedSeconds?: number;
      /** Where large writes' other digests are computed; none: inline. */
      otherDigests?: OtherDigestsElsewhere;
    } = {},
  ) {
    this.verified = new VerifiedBlobCache(options.memoryCacheBytes ?? 0);
    this.verifiedFiles = new RecentlyVerifiedFiles(options.trustVerifiedSeconds ?? 0);
    this.otherDigests = options.otherDigests;
    this.blobDir = blobDirOf(root);
    this.tempDir = join(root, 'tmp');
    this.quarantineDir = join(root, 'quarantine');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.tempDir, { recursive: true });
    await mkdir(this.quarantineDir, { recursive: true });
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

  pathOf(sha256: string): string {
    if (!isHexDigest('sha256', sha256)) throw new ShelfError('DIGEST_INVALID', 400, `not a sha256 digest: ${sha256}`);
    return join(this.blobDir, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return this.verified.has(sha256) || (await this.statBlob(sha256)) !== undefined;
  }

  /**
   * A stream of the blob's bytes (or of one range of them); fails with MissingBlobError when absent. A whole
   * blob is hashed as it streams: when the bytes turn out not to match, the blob is quarantined and the
   * stream fails at its end, so the client's transfer breaks off instead of completing with damaged bytes.
   * (A range is not checked: that would mean reading the whole blob for every part of it.) A file this
   * process verified recently and that is unchanged since is not hashed again (see RecentlyVerifiedFiles).
   */
  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    const handle = await this.openHandle(sha256);
    let identity: string | undefined;
    try {
      identity = range ? undefined : await this.verifiedFiles.identityOf(handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const stream = createReadStream('', { fd: handle, start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
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
   * The blob's file, relative to the blob directory, when another server may send it unchecked: this process
   * verified it whole, and it is unchanged since (see RecentlyVerifiedFiles). Otherwise undefined, and the
   * caller streams it through `open`, which verifies it (and so makes it trusted for next time).
   */
  async trustedFile(sha256: string, size: number): Promise<string | undefined> {
    if (size < TRUST_MIN_BYTES) return undefined;
    const path = this.pathOf(sha256);
    const identity = await this.verifiedFiles.identityOf(path).catch(() => undefined);
    return this.verifiedFiles.isTrusted(sha256, identity) ? relative(this.blobDir, path) : undefined;
  }

  /**
   * A small blob's bytes (or one range of them) in one buffer: an open, one read and a close, without a
   * stream's machinery, which costs more than the read itself for files of a few kilobytes. The whole blob
   * is read and verified before anything is returned; a damaged one is quarantined (CorruptBlobError).
   * Verified bytes are kept in memory (within memoryCacheBytes) and served from there next time.
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
    const handle = await this.openHandle(sha256);
    let buffer: Buffer;
    let identity: string | undefined;
    try {
      if (size >= TRUST_MIN_BYTES) identity = await this.verifiedFiles.identityOf(handle);
      buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buffer, 0, size, 0);
      buffer = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    const actual = await sha256Of(buffer);
    if (actual !== sha256 || buffer.length !== size) {
      await this.quarantine(sha256);
      throw new CorruptBlobError(sha256, actual);
    }
    this.verifiedFiles.verified(sha256, identity);
    return buffer;
  }

  /** Whether the blob file is there; an indexed path whose blob is not must not be answered as present. */
  async requirePresent(sha256: string): Promise<void> {
    if (!(await this.has(sha256))) throw new MissingBlobError(sha256);
  }

  /** Moves a damaged blob out of service; the next writer of the same content stores it afresh. */
  async quarantine(sha256: string): Promise<void> {
    this.verified.forget(sha256);
    this.verifiedFiles.forget(sha256);
    await rename(this.pathOf(sha256), join(this.quarantineDir, `${sha256}.${Date.now()}`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private async openHandle(sha256: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(sha256), fsConstants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingBlobError(sha256);
      throw err;
    }
  }

  /** The blob files in one prefix folder (see BLOB_PREFIXES), by digest. */
  async listPrefix(prefix: string): Promise<string[]> {
    const names = await readdir(join(this.blobDir, prefix)).catch((err: NodeJS.ErrnoException) => {
      ignoreMissing(err);
      return [];
    });
    return names.filter((name) => isHexDigest('sha256', name) && name.startsWith(prefix));
  }

  async statBlob(sha256: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    return stat(this.pathOf(sha256)).catch((err: NodeJS.ErrnoException) => {
      ignoreMissing(err);
      return undefined;
    });
  }

  /**
   * Marks an existing blob as just used, before the index is given a new reference to it without the blob
   * being written again (a link, a mount): a garbage collection sweeping now then keeps it (see sweep).
   */
  async touch(sha256: string): Promise<void> {
    // A sweep holds a blob aside for a moment while it decides; one it keeps is back within milliseconds.
    for (let attempt = 0; ; attempt++) {
      const now = new Date();
      try {
        return await utimes(this.pathOf(sha256), now, now);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (attempt === TOUCH_ATTEMPTS - 1) throw new MissingBlobError(sha256);
        await setTimeout(TOUCH_RETRY_MS);
      }
    }
  }

  /**
   * Deletes a blob the caller found unreferenced, unless it was written or touched at or after
   * `notModifiedSince` ('young'), or `stillNeeded()` says it has been referenced meanwhile ('needed'). The
   * file is first moved aside (atomically), so a writer or a link that races with the sweep either renews it
   * before the move (and it is put back) or finds it gone. Resolves to the bytes freed, or why it was kept
   * (undefined: there was no such file).
   */
  async sweep(sha256: string, notModifiedSince: number, stillNeeded: () => Promise<boolean>): Promise<number | 'young' | 'needed' | undefined> {
    const path = this.pathOf(sha256);
    // Named after this process, so that a crash between the move and the decision leaves a temp file that
    // start-up (or the primary, when a worker dies) removes.
    const aside = join(this.tempDir, `${tempOwner()}-gc-${sha256}`);
    try {
      await rename(path, aside);
    } catch (err) {
      ignoreMissing(err as NodeJS.ErrnoException);
      return undefined;
    }
    const { size, mtimeMs } = await stat(aside);
    const kept = mtimeMs >= notModifiedSince ? 'young' : (await stillNeeded()) ? 'needed' : undefined;
    if (kept) {
      // Another writer may have stored the same bytes under the name meanwhile: either copy will do.
      await link(aside, path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await unlink(aside);
      return kept;
    }
    await unlink(aside);
    this.verified.forget(sha256);
    this.verifiedFiles.forget(sha256);
    return size;
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
   * Moves a complete file whose digests the caller has computed (e.g. a finished resumable upload, hashed in
   * a worker thread) into the store. The file must be on the store's filesystem.
   */
  async adopt(path: string, blob: StoredBlob): Promise<void> {
    const handle = await open(path, 'r+');
    try {
      // Written over a long time perhaps, but stored now: a sweep must see it as new.
      const now = new Date();
      await handle.utimes(now, now);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const finalPath = this.pathOf(blob.sha256);
    await mkdir(join(finalPath, '..'), { recursive: true });
    await rename(path, finalPath);
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
    return new BlobWriter(this, handle, tempPath, options, this.otherDigests);
  }
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
    private readonly store: FsBlobStore,
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
      // The file is made durable while the thread that follows it finishes the other digests.
      const [others] = await Promise.all([this.follower?.finished(), this.handle.sync()]);
      const checksums = this.hasher.digest(others);
      const expect = this.options.expect ?? {};
      if (expect.size !== undefined && expect.size !== this.hasher.size) {
        throw new SizeMismatchError(expect.size, this.hasher.size);
      }
      const mismatch = findMismatch(checksums, expect);
      if (mismatch) throw new DigestMismatchError(mismatch, expect[mismatch]!, checksums[mismatch] ?? 'not computed');
      await this.handle.close();
      const finalPath = this.store.pathOf(checksums.sha256);
      await mkdir(join(finalPath, '..'), { recursive: true });
      // Renaming over an existing blob is harmless: same digest, same bytes.
      await rename(this.tempPath, finalPath);
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
