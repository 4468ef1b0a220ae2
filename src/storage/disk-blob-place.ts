import { createReadStream, constants as fsConstants, type BigIntStats } from 'node:fs';
import { access, link, mkdir, open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import type { BlobPlace, BlobStat, SweepOutcome } from './blob-place.js';
import { MissingBlobError, requireDigest, tempOwner, type ByteRange } from './blob-store.js';
import { isHexDigest } from './checksums.js';

/** How often, and how far apart, `touch` looks for a blob a sweep may be holding aside. */
const TOUCH_ATTEMPTS = 5;
const TOUCH_RETRY_MS = 50;

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err;
};

/** Device, inode, size, modification and change times: any write to the file, or a file put in its place, changes it. */
const fileIdentity = (s: BigIntStats) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

/**
 * Blobs as files at sha256/<2 hex>/<64 hex> under a directory, on the same filesystem as the store's temp
 * files: a finished temp file is renamed into place, so a blob appears whole or not at all. The directory
 * may be shared by several nodes (NFS): rename is atomic within it, and nothing relies on locks.
 */
export class DiskBlobPlace implements BlobPlace {
  readonly kind = 'filesystem';
  readonly keepsTempFiles = true;

  constructor(
    readonly blobDir: string,
    /** The store's temp directory: a sweep moves a blob there while it decides. */
    private readonly tempDir: string,
    readonly quarantineDir: string,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.quarantineDir, { recursive: true });
  }

  async ping(): Promise<void> {
    await access(this.blobDir, fsConstants.R_OK | fsConstants.W_OK);
  }

  pathOf(sha256: string): string {
    requireDigest(sha256);
    return join(this.blobDir, sha256.slice(0, 2), sha256);
  }

  async put(file: string, sha256: string): Promise<void> {
    const finalPath = this.pathOf(sha256);
    await mkdir(join(finalPath, '..'), { recursive: true });
    // Renaming over an existing blob is harmless: same digest, same bytes.
    await rename(file, finalPath);
  }

  async stream(sha256: string, range: ByteRange | undefined, wantIdentity: boolean) {
    const handle = await this.openHandle(sha256);
    let identity: string | undefined;
    try {
      if (wantIdentity) identity = fileIdentity(await handle.stat({ bigint: true }));
    } catch (err) {
      await handle.close();
      throw err;
    }
    const stream = createReadStream('', { fd: handle, start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
    return { stream, ...(identity !== undefined && { identity }) };
  }

  /** An open, one read and a close, without a stream's machinery, which costs more than the read for files of a few kilobytes. */
  async read(sha256: string, size: number, wantIdentity: boolean) {
    const handle = await this.openHandle(sha256);
    try {
      const identity = wantIdentity ? fileIdentity(await handle.stat({ bigint: true })) : undefined;
      const buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buffer, 0, size, 0);
      return { bytes: buffer.subarray(0, bytesRead), ...(identity !== undefined && { identity }) };
    } finally {
      await handle.close();
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async stat(sha256: string): Promise<BlobStat | undefined> {
    return stat(this.pathOf(sha256)).catch((err: NodeJS.ErrnoException) => {
      ignoreMissing(err);
      return undefined;
    });
  }

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

  async list(prefix: string): Promise<string[]> {
    const names = await readdir(join(this.blobDir, prefix)).catch((err: NodeJS.ErrnoException) => {
      ignoreMissing(err);
      return [];
    });
    return names.filter((name) => isHexDigest('sha256', name) && name.startsWith(prefix));
  }

  async quarantine(sha256: string): Promise<void> {
    await rename(this.pathOf(sha256), join(this.quarantineDir, `${sha256}.${Date.now()}`)).catch(ignoreMissing);
  }

  /**
   * A young file is left where it is: moved aside, even for a moment, a writer's link or a reader would miss
   * it. An old one is first moved aside (atomically), so a writer or a link that races with the sweep either
   * renews it before the move (and it is put back) or finds it gone and writes it again.
   */
  async sweep(sha256: string, notModifiedSince: number, stillNeeded: () => Promise<boolean>, dryRun: boolean): Promise<SweepOutcome> {
    const found = await this.stat(sha256);
    if (!found) return undefined;
    if (found.mtimeMs >= notModifiedSince) return 'young';
    if (dryRun) return found.size;
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
    return size;
  }

  async withLocalFile<T>(sha256: string, use: (path: string) => Promise<T>): Promise<T> {
    if (!(await this.has(sha256))) throw new MissingBlobError(sha256);
    // Gone meanwhile (collected): the user's reading of it says ENOENT.
    return use(this.pathOf(sha256)).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new MissingBlobError(sha256) : err;
    });
  }

  async localFile(sha256: string) {
    const path = this.pathOf(sha256);
    const stats = await stat(path, { bigint: true }).catch(() => undefined);
    return stats && { relativePath: relative(this.blobDir, path), identity: fileIdentity(stats) };
  }

  private async openHandle(sha256: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(sha256), fsConstants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingBlobError(sha256);
      throw err;
    }
  }
}
