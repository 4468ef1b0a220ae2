import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShelfError } from '../errors.js';
import type { WorkerPool } from '../workers/pool.js';
import { DigestMismatchError, SizeMismatchError, TooLargeError, type BlobExpectation, type CompleteBlob, type BlobStore } from './blob-store.js';
import { CHECKSUM_ALGORITHMS, findMismatch, type Checksums } from './checksums.js';

export interface UploadSession {
  id: string;
  /** Who may continue it (for Docker: the repository and image name it was started for). */
  owner: string;
  /** The user who started it (null: anonymous), whose open sessions are capped. */
  user: string | null;
  startedAt: number;
  /** Bytes received so far. */
  size: number;
}

export interface UploadLimits {
  /** A session with no data for this long is expired: refused, then removed. */
  expirySeconds: number;
  /** Open sessions one user (or all anonymous callers together) may have. */
  maxPerUser: number;
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
    private readonly blobs: BlobStore,
    private readonly workers: WorkerPool,
    private readonly limits: UploadLimits,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Starts a session; a user who has `maxPerUser` open ones already gets 429 until one ends or expires. */
  async start(owner: string, user: string | null): Promise<UploadSession> {
    await this.blobs.ensureSpace();
    const open = (await this.list()).filter((s) => s.user === user && !this.expired(s));
    if (open.length >= this.limits.maxPerUser) {
      throw new ShelfError('TOO_MANY_REQUESTS', 429, `${user ?? 'anonymous callers'} already have ${open.length} uploads open; finish or cancel one`, {
        'retry-after': '60',
      });
    }
    const session = { id: randomUUID(), owner, user, startedAt: Date.now() };
    await writeFile(this.dataPath(session.id), '');
    await writeFile(this.metaPath(session.id), JSON.stringify(session));
    return { ...session, size: 0 };
  }

  /** The session, if it exists, belongs to `owner` and has not expired (an expired one is removed). */
  async get(id: string, owner: string): Promise<UploadSession | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const session = await this.read(id);
    if (!session || session.owner !== owner) return undefined;
    if (this.expired(session)) {
      await this.cancel(id);
      return undefined;
    }
    return session;
  }

  /** Sessions on disk, for the metrics and the per-user cap. */
  async stats(): Promise<{ sessions: number; bytes: number }> {
    const sessions = await this.list();
    return { sessions: sessions.length, bytes: sessions.reduce((sum, s) => sum + s.size, 0) };
  }

  /** Appends one chunk; resolves to the session's new size. */
  async append(session: UploadSession, chunk: AsyncIterable<Buffer>, maxBytes: number): Promise<number> {
    await this.blobs.ensureSpace();
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
  async finish(session: UploadSession, expect: BlobExpectation): Promise<CompleteBlob> {
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

  /** Removes the sessions that received no data for the expiry time; returns how many. */
  async removeAbandoned(): Promise<number> {
    let removed = 0;
    for (const session of await this.list()) {
      if (!this.expired(session)) continue;
      await this.cancel(session.id);
      removed++;
    }
    return removed;
  }

  /** Expiry counts from the last chunk received (the data file's modification), not from the start. */
  private expired(session: { lastActivity: number }): boolean {
    return session.lastActivity < Date.now() - this.limits.expirySeconds * 1000;
  }

  private async list(): Promise<(UploadSession & { lastActivity: number })[]> {
    const sessions = [];
    for (const name of await readdir(this.dir)) {
      const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
      if (!SESSION_ID.test(id)) continue;
      const session = await this.read(id);
      if (session) sessions.push(session);
    }
    return sessions;
  }

  private async read(id: string): Promise<(UploadSession & { lastActivity: number }) | undefined> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(id), 'utf8')) as Omit<UploadSession, 'size'>;
      const data = await stat(this.dataPath(id));
      return { ...meta, user: meta.user ?? null, size: data.size, lastActivity: Math.max(data.mtimeMs, meta.startedAt) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private dataPath(id: string): string {
    return join(this.dir, `${id}.data`);
  }

  private metaPath(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
