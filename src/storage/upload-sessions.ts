import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShelfError } from '../errors.js';
import type { WorkerPool } from '../workers/pool.js';
import { DigestMismatchError, SizeMismatchError, TooLargeError, type BlobExpectation, type FsBlobStore, type StoredBlob } from './blob-store.js';
import { CHECKSUM_ALGORITHMS, findMismatch, type Checksums } from './checksums.js';

export interface UploadSession {
  id: string;
  /** Who may continue it (for Docker: the repository and image name it was started for). */
  owner: string;
  startedAt: number;
  /** Bytes received so far. */
  size: number;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Resumable uploads that a client sends in several requests (Docker's chunked blob upload). State lives on
 * disk, beside the blob store, so any worker process can take the next chunk. A chunk that fails half-way is
 * cut off again, so the session always holds whole chunks; the finished file is hashed in a worker thread,
 * verified, and moved into the blob store without copying.
 */
export class UploadSessions {
  constructor(
    private readonly dir: string,
    private readonly blobs: FsBlobStore,
    private readonly workers: WorkerPool,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async start(owner: string): Promise<UploadSession> {
    const session = { id: randomUUID(), owner, startedAt: Date.now() };
    await writeFile(this.dataPath(session.id), '');
    await writeFile(this.metaPath(session.id), JSON.stringify(session));
    return { ...session, size: 0 };
  }

  /** The session, if it exists and belongs to `owner`. */
  async get(id: string, owner: string): Promise<UploadSession | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    try {
      const meta = JSON.parse(await readFile(this.metaPath(id), 'utf8')) as Omit<UploadSession, 'size'>;
      if (meta.owner !== owner) return undefined;
      return { ...meta, size: (await stat(this.dataPath(id))).size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Appends one chunk; resolves to the session's new size. */
  async append(session: UploadSession, chunk: AsyncIterable<Buffer>, maxBytes: number): Promise<number> {
    const handle = await open(this.dataPath(session.id), 'a');
    let size = session.size;
    try {
      for await (const piece of chunk) {
        if (size + piece.length > maxBytes) throw new TooLargeError(maxBytes);
        await handle.write(piece);
        size += piece.length;
      }
    } catch (err) {
      await handle.close();
      await truncate(this.dataPath(session.id), session.size).catch(() => undefined);
      throw err;
    }
    await handle.close();
    return size;
  }

  /** Verifies the whole upload against `expect` and moves it into the blob store; the session ends either way. */
  async finish(session: UploadSession, expect: BlobExpectation): Promise<StoredBlob> {
    const data = this.dataPath(session.id);
    try {
      const { digests, size } = await this.workers.hashFile(data, [...CHECKSUM_ALGORITHMS]);
      const checksums = digests as Checksums;
      if (expect.size !== undefined && expect.size !== size) throw new SizeMismatchError(expect.size, size);
      const mismatch = findMismatch(checksums, expect);
      if (mismatch) throw new DigestMismatchError(mismatch, expect[mismatch]!, checksums[mismatch]);
      const blob = { ...checksums, size };
      await this.blobs.adopt(data, blob);
      return blob;
    } finally {
      await this.cancel(session.id);
    }
  }

  async cancel(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) throw new ShelfError('BLOB_UPLOAD_UNKNOWN', 404, `upload ${id} is unknown`);
    await rm(this.dataPath(id), { force: true });
    await rm(this.metaPath(id), { force: true });
  }

  /** Removes sessions started before `cutoff` (epoch ms) that never finished; returns how many. */
  async removeAbandoned(cutoff: number): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!SESSION_ID.test(id)) continue;
      const started = await stat(join(this.dir, name)).then((s) => s.mtimeMs, () => Infinity);
      if (started < cutoff) {
        await this.cancel(id);
        removed++;
      }
    }
    return removed;
  }

  private dataPath(id: string): string {
    return join(this.dir, `${id}.data`);
  }

  private metaPath(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
