import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mapBounded } from '../concurrency.js';
import { ShelfError } from '../errors.js';
import type { BlobPlace, BlobStat, SweepOutcome } from './blob-place.js';
import { MissingBlobError, tempOwner, type ByteRange } from './blob-store.js';
import { isHexDigest } from './checksums.js';

// Shelf runs on Node 20 and pins an SDK release that supports it; a warning per process about later
// releases says nothing an operator can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3BlobPlaceOptions {
  bucket: string;
  /** Put before every key (`shelf/` keeps Shelf's objects apart from others in the bucket). */
  prefix: string;
  region: string;
  /** An S3-compatible server's URL; none: AWS's endpoint for the region. */
  endpoint?: string;
  /** Bucket in the path rather than the host name (most S3-compatible servers want this). */
  forcePathStyle: boolean;
  /** None: the SDK's default chain (environment, shared files, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The longest any request may go without progress, and the longest any request but a transfer may take. */
  requestTimeoutMs: number;
  /** Blobs larger than this go up in parts of this size, several at once. */
  partBytes: number;
  /** Where downloaded copies are made for hashing (the blob store's temp directory). */
  tempDir: string;
}

/** S3 refuses a single copy larger than this; larger objects are copied in parts. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
/** S3 allows at most this many parts in a multipart upload. */
const MAX_PARTS = 10_000;
/** How long a listing page answers later prefixes of a scan. */
const PAGE_KEPT_MS = 60_000;
/** Parts sent at once per upload or copy. */
const PART_CONCURRENCY = 4;
/** S3's modification times have whole seconds: a blob stored within this of a cut-off counts as young. */
const MTIME_RESOLUTION_MS = 1000;

const QUIET = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const isNotFound = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

/**
 * Blobs as objects in an S3 bucket (AWS or any S3-compatible server: Ceph's RADOS gateway, MinIO...), at
 * <prefix>sha256/<2 hex>/<64 hex>. A finished temp file is uploaded (in parts when large) and only then
 * becomes visible, whole. Every node of a cluster reads the same bucket.
 *
 * S3 has no atomic move, so a sweep cannot hold a blob aside the way a directory can. Instead, an
 * unreferenced old blob is copied to <prefix>trash/ and deleted, and the trashed copy is deleted only by a
 * later sweep, when it is older than the grace period and still unreferenced. A writer or a link that raced
 * with the first step finds its blob missing and brings the trashed copy back (same digest, same bytes), so
 * no race loses a blob; the space is given back one collection later.
 */
export class S3BlobPlace implements BlobPlace {
  readonly kind = 's3';
  readonly keepsTempFiles = false;
  private readonly client: S3Client;
  /** The last listing page of each area, for the prefixes after it (see listArea). */
  private readonly pages = new Map<string, { first: string; keys: string[]; truncated: boolean; at: number }>();

  constructor(private readonly options: S3BlobPlaceOptions) {
    // noDelay: a request's segments go out at once rather than wait for the server's delayed ACK.
    const agentOptions = { keepAlive: true, maxSockets: 256, noDelay: true };
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint && { endpoint: options.endpoint }),
      ...(options.credentials && { credentials: options.credentials }),
      // Checksums only where S3 demands them: many S3-compatible servers refuse the SDK's default trailers.
      // What is read back is verified by its sha256 anyway.
      // Failures become errors Shelf reports with the request; the SDK would otherwise warn on the console.
      logger: QUIET,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: Math.min(options.requestTimeoutMs, 10_000),
        // No answer within this fails the request (each call may give its own, see transferDeadline)...
        requestTimeout: options.requestTimeoutMs,
        throwOnRequestTimeout: true,
        // ...and so does a socket without traffic for this long, also while a body streams (one that still
        // moves goes on: a download follows its client's pace).
        socketTimeout: options.requestTimeoutMs,
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new Agent(agentOptions),
      },
    });
  }

  async init(): Promise<void> {
    const { bucket } = this.options;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }), this.deadline());
    } catch (err) {
      if (!isNotFound(err)) throw new Error(`S3 bucket ${bucket}: ${describe(err)}`);
      await this.client.send(new CreateBucketCommand({ Bucket: bucket }), this.deadline());
    }
  }

  /** The bucket answers: for readiness. */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }), this.deadline()).catch((err: unknown) => {
      throw new Error(`S3 bucket ${this.options.bucket}: ${describe(err)}`);
    });
  }

  async put(file: string, sha256: string, size: number): Promise<void> {
    await this.upload(file, sha256, size).catch((err: unknown) => {
      throw storageError(err);
    });
    await unlink(file);
  }

  private async upload(file: string, sha256: string, size: number): Promise<void> {
    // Sent even when the bucket has it: that copy may be damaged, and a new write must repair it.
    const key = this.liveKey(sha256);
    if (size <= this.options.partBytes) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: createReadStream(file), ContentLength: size }),
        this.transferDeadline(size),
      );
    } else {
      await this.multipart(key, size, (upload, part, start, end) =>
        this.client.send(
          new UploadPartCommand({ ...upload, PartNumber: part, Body: createReadStream(file, { start, end }), ContentLength: end - start + 1 }),
          this.transferDeadline(end - start + 1),
        ),
      );
    }
  }

  async stream(sha256: string, range: ByteRange | undefined, wantIdentity: boolean): Promise<{ stream: Readable; identity?: string }> {
    const object = await this.get(sha256, range);
    const stream = object.Body as Readable;
    const identity = wantIdentity && object.ETag && object.LastModified ? `${object.ETag}:${object.LastModified.getTime()}` : undefined;
    return { stream, ...(identity && { identity }) };
  }

  async read(sha256: string, size: number, wantIdentity: boolean): Promise<{ bytes: Buffer; identity?: string }> {
    const { stream, identity } = await this.stream(sha256, undefined, wantIdentity);
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      // More than the index says: damaged; what was read is enough to show it.
      if (length > size) {
        stream.destroy();
        break;
      }
    }
    return { bytes: Buffer.concat(chunks), ...(identity && { identity }) };
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.head(this.liveKey(sha256))) !== undefined || (await this.restore(sha256));
  }

  stat(sha256: string): Promise<BlobStat | undefined> {
    return this.head(this.liveKey(sha256));
  }

  async touch(sha256: string): Promise<void> {
    const key = this.liveKey(sha256);
    const found = await this.head(key);
    // Brought back from the trash, a blob is new: the copy's time is now.
    if (found ? await this.renew(key, found.size) : await this.restore(sha256)) return;
    throw new MissingBlobError(sha256);
  }

  async list(prefix: string): Promise<string[]> {
    const found = new Set<string>();
    for (const area of ['sha256', 'trash']) {
      for (const name of await this.listArea(area, prefix)) if (isHexDigest('sha256', name) && name.startsWith(prefix)) found.add(name);
    }
    return [...found].sort();
  }

  /**
   * The names under <area>/<prefix>/. A scan goes through the prefixes in order (garbage collection,
   * verify), and one listing page (up to 1000 keys) often spans many of them: the last page is kept for a
   * minute and answers the prefixes after it covers, so a small store is scanned in one request per area
   * instead of 256 (each one tens of milliseconds on an S3 server).
   */
  private async listArea(area: string, prefix: string): Promise<string[]> {
    const base = `${this.options.prefix}${area}/`;
    const namesIn = (keys: string[]) => keys.filter((key) => key.startsWith(`${base}${prefix}/`)).map((key) => key.slice(base.length + prefix.length + 1));
    const kept = this.pages.get(area);
    // Only for a later prefix: a scan asks for each once, so the same one again is a new scan, which must see new blobs.
    const covers = kept && prefix > kept.first && (!kept.truncated || kept.keys.at(-1)! >= `${base}${prefix}0`);
    if (covers && Date.now() - kept.at < PAGE_KEPT_MS) {
      return namesIn(kept.keys);
    }
    const names: string[] = [];
    let token: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: base, ...(token ? { ContinuationToken: token } : { StartAfter: `${base}${prefix}` }) }),
        this.deadline(),
      );
      const keys = (page.Contents ?? []).map((object) => object.Key!);
      names.push(...namesIn(keys));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      // Done with this prefix once the listing has gone past it.
      if (!token || keys.at(-1)! >= `${base}${prefix}0`) {
        this.pages.set(area, { first: prefix, keys, truncated: token !== undefined, at: Date.now() });
        return names;
      }
    }
  }

  async quarantine(sha256: string): Promise<void> {
    const key = this.liveKey(sha256);
    const found = await this.head(key);
    if (!found) return;
    const kept = await this.copy(key, `${this.options.prefix}quarantine/${sha256}.${Date.now()}`, found.size);
    if (kept) await this.delete(key);
  }

  async sweep(sha256: string, notModifiedSince: number, stillNeeded: () => Promise<boolean>, dryRun: boolean): Promise<SweepOutcome> {
    const live = this.liveKey(sha256);
    const found = await this.head(live);
    if (found) {
      if (found.mtimeMs + MTIME_RESOLUTION_MS > notModifiedSince) return 'young';
      if (dryRun) return found.size;
      if (await stillNeeded()) return 'needed';
      // Trashed first, so that a writer racing with the delete can bring its blob back.
      if (!(await this.copy(live, this.trashKey(sha256), found.size))) return undefined;
      await this.delete(live);
      return found.size;
    }
    // Trashed by an earlier sweep: deleted for good once old enough and still unreferenced.
    const trashed = await this.head(this.trashKey(sha256));
    if (!trashed || trashed.mtimeMs + MTIME_RESOLUTION_MS > notModifiedSince || dryRun) return undefined;
    if (await stillNeeded()) return (await this.restore(sha256)) ? 'needed' : undefined;
    await this.delete(this.trashKey(sha256));
    return undefined;
  }

  async withLocalFile<T>(sha256: string, use: (path: string) => Promise<T>): Promise<T> {
    const copy = join(this.options.tempDir, `${tempOwner()}-s3-${randomUUID()}`);
    try {
      const { stream } = await this.stream(sha256, undefined, false);
      await pipeline(stream, createWriteStream(copy, { flags: 'wx' }));
      return await use(copy);
    } finally {
      await unlink(copy).catch(() => undefined);
    }
  }

  private liveKey(sha256: string): string {
    return `${this.options.prefix}sha256/${sha256.slice(0, 2)}/${sha256}`;
  }

  private trashKey(sha256: string): string {
    return `${this.options.prefix}trash/${sha256.slice(0, 2)}/${sha256}`;
  }

  /** GET, bringing a trashed blob back when the live one is missing; MissingBlobError when neither is there. */
  private async get(sha256: string, range: ByteRange | undefined) {
    const request = () =>
      this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.liveKey(sha256), ...(range && { Range: `bytes=${range.start}-${range.end}` }) }),
        // The headers within the deadline; the body then flows at the reader's pace (stalls end at requestTimeout).
        this.deadline(),
      );
    try {
      return await request();
    } catch (err) {
      if (!isNotFound(err)) throw storageError(err);
    }
    if (!(await this.restore(sha256))) throw new MissingBlobError(sha256);
    return request().catch((err: unknown) => {
      throw isNotFound(err) ? new MissingBlobError(sha256) : storageError(err);
    });
  }

  private async head(key: string): Promise<BlobStat | undefined> {
    try {
      const found = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }), this.deadline());
      return { size: found.ContentLength ?? 0, mtimeMs: found.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError(err);
    }
  }

  /** Copies the trashed blob back; false when there is none (and the live one is not there either). */
  private async restore(sha256: string): Promise<boolean> {
    const trashed = await this.head(this.trashKey(sha256));
    const restored = trashed !== undefined && (await this.copy(this.trashKey(sha256), this.liveKey(sha256), trashed.size));
    // Another reader may have restored it first, and deleted the trashed copy.
    if (!restored) return (await this.head(this.liveKey(sha256))) !== undefined;
    await this.delete(this.trashKey(sha256));
    return true;
  }

  /** Makes the object new (its modification time now) by copying it onto itself; false when it is gone. */
  private renew(key: string, size: number): Promise<boolean> {
    return this.copy(key, key, size);
  }

  /** Copies within the bucket (in parts above S3's single-copy limit); false when the source is gone. */
  private async copy(from: string, to: string, size: number): Promise<boolean> {
    const source = `${this.options.bucket}/${encodeURI(from)}`;
    try {
      if (size <= MAX_SINGLE_COPY_BYTES) {
        // A copy onto itself must change something: the metadata, replaced by the same (none).
        await this.client.send(
          new CopyObjectCommand({ Bucket: this.options.bucket, Key: to, CopySource: source, MetadataDirective: 'REPLACE' }),
          this.transferDeadline(size),
        );
      } else {
        await this.multipart(to, size, (upload, part, start, end) =>
          this.client.send(
            new UploadPartCopyCommand({ ...upload, PartNumber: part, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }),
            this.transferDeadline(end - start + 1),
          ).then((answer) => ({ ETag: answer.CopyPartResult?.ETag })),
        );
      }
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw storageError(err);
    }
  }

  /** A multipart upload of `size` bytes, its parts sent by `sendPart` a few at once; aborted on any failure. */
  private async multipart(
    key: string,
    size: number,
    sendPart: (upload: { Bucket: string; Key: string; UploadId: string }, part: number, start: number, end: number) => Promise<{ ETag?: string }>,
  ): Promise<void> {
    const partBytes = Math.max(this.options.partBytes, Math.ceil(size / MAX_PARTS));
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.options.bucket, Key: key }), this.deadline());
    const upload = { Bucket: this.options.bucket, Key: key, UploadId: created.UploadId! };
    try {
      const starts = Array.from({ length: Math.ceil(size / partBytes) }, (_, i) => i * partBytes);
      const parts = await mapBounded(starts, PART_CONCURRENCY, async (start, i) => {
        const { ETag } = await sendPart(upload, i + 1, start, Math.min(start + partBytes, size) - 1);
        return { ETag, PartNumber: i + 1 };
      });
      await this.client.send(new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: parts } }), this.deadline());
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand(upload), this.deadline()).catch(() => undefined);
      throw err;
    }
  }

  private async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }), this.deadline()).catch((err: unknown) => {
      if (!isNotFound(err)) throw storageError(err);
    });
  }

  /**
   * The longest wait for an answer. (Not an AbortSignal: one stays armed after the answer, and would cut a
   * download's body off half-way.)
   */
  private deadline() {
    return { requestTimeout: this.options.requestTimeoutMs };
  }

  /** An upload or a copy of `bytes` may take the request deadline plus a second per 8 MiB (slower than any working link). */
  private transferDeadline(bytes: number) {
    return { requestTimeout: this.options.requestTimeoutMs + Math.ceil(bytes / (8 * 1024 * 1024)) * 1000 };
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}${e.message && e.message !== e.name ? `: ${e.message}` : ''}`;
}

/** The object store failed (not a missing blob): the request fails with 503, saying so, and may be retried. */
function storageError(err: unknown): ShelfError {
  if (err instanceof ShelfError) return err;
  return new ShelfError('STORAGE_UNAVAILABLE', 503, `the S3 blob store failed: ${describe(err)}`);
}
