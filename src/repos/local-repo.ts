import type { LocalRepoConfig } from '../config/schema.js';
import { formatByteSize } from '../config/byte-size.js';
import { conflict, forbidden, notFound, ShelfError } from '../errors.js';
import { TooLargeError, type StoredBlob } from '../storage/blob-store.js';
import type { ArtifactRecord, ListOptions, RepositoryUsage } from '../storage/metadata-index.js';
import {
  storedArtifact,
  type Artifact,
  type FormatRules,
  type PutOptions,
  type RepoContext,
  type Repository,
} from './repository.js';

/** Hosted content: what clients deploy is stored here and served back. */
export class LocalRepo implements Repository {
  readonly type = 'local';

  constructor(
    readonly config: LocalRepoConfig,
    private readonly rules: FormatRules,
    private readonly ctx: RepoContext,
  ) {}

  get key() {
    return this.config.key;
  }

  get format() {
    return this.config.format;
  }

  async get(path: string): Promise<Artifact | undefined> {
    const record = await this.ctx.index.getArtifact(this.key, path);
    return record && storedArtifact(this.ctx.blobs, record);
  }

  async record(path: string): Promise<ArtifactRecord | undefined> {
    return this.ctx.index.getArtifact(this.key, path);
  }

  async list(options?: ListOptions): Promise<ArtifactRecord[]> {
    return this.ctx.index.listArtifacts(this.key, options);
  }

  async put(path: string, source: AsyncIterable<Buffer> | Iterable<Buffer>, options: PutOptions): Promise<ArtifactRecord> {
    const room = await this.roomLeft(path, options.expect?.size ?? 0);
    const limitedByQuota = room !== undefined && room < (options.maxBytes ?? Infinity);
    const maxBytes = limitedByQuota ? room : options.maxBytes;
    const blob = await this.ctx.blobs
      .write(source, {
        ...(options.expect && { expect: options.expect }),
        ...(maxBytes !== undefined && { maxBytes }),
      })
      .catch(async (err: unknown) => {
        throw err instanceof TooLargeError && limitedByQuota ? this.overQuota(await this.ctx.index.usageOf(this.key)) : err;
      });
    // Just written, so renewed already: a sweep keeps it.
    return this.store(path, blob, options.contentType);
  }

  async link(path: string, blob: StoredBlob, contentType: string): Promise<ArtifactRecord> {
    await this.ctx.blobs.touch(blob.sha256);
    return this.store(path, blob, contentType);
  }

  /** Records the blob at the path, as the overwrite policy and the quota allow. */
  private async store(path: string, blob: StoredBlob, contentType: string): Promise<ArtifactRecord> {
    const result = await this.ctx.index.putArtifact(
      { repo: this.key, path, blob, contentType },
      this.rules.overwritePolicy(path),
      this.config.quotaBytes,
    );
    if ('conflict' in result) {
      throw conflict(`${this.key}/${path} is already deployed with other content and this repository does not allow redeploy`);
    }
    if ('overQuota' in result) throw this.overQuota(result.overQuota, blob.size);
    return result.stored;
  }

  /** Marks an entry as just referenced again, so that a garbage collection running now keeps it. */
  async renew(path: string): Promise<void> {
    await this.ctx.index.renewArtifact(this.key, path);
  }

  /** Throws as `link` would for this path and content: the overwrite policy (immutability) of the repository. */
  async checkLinkable(path: string, blob: StoredBlob): Promise<void> {
    const existing = await this.ctx.index.getArtifact(this.key, path);
    const policy = this.rules.overwritePolicy(path);
    if (existing && (policy === 'create-only' || (policy === 'same-content-only' && existing.blob.sha256 !== blob.sha256))) {
      throw conflict(`${this.key}/${path} is already deployed with other content and this repository does not allow redeploy`);
    }
  }

  /** Throws 413 unless the quota has room for `bytes` more (what they replace already subtracted by the caller). */
  async checkRoom(bytes: number): Promise<void> {
    const quota = this.config.quotaBytes;
    if (quota === undefined) return;
    const usage = await this.ctx.index.usageOf(this.key);
    if (usage.bytes + bytes > quota) throw this.overQuota(usage, bytes);
  }

  /**
   * Bytes the quota still allows at `path` (none: no quota); a deploy known to need more than that is refused before
   * any byte is read, and one of unknown size is cut off as soon as it passes it.
   */
  private async roomLeft(path: string, needed: number): Promise<number | undefined> {
    const quota = this.config.quotaBytes;
    if (quota === undefined) return undefined;
    const usage = await this.ctx.index.usageOf(this.key);
    // What a deploy over an existing path replaces is freed by it.
    const replaced = (await this.ctx.index.getArtifact(this.key, path))?.blob.size ?? 0;
    const room = quota - usage.bytes + replaced;
    if (needed > room) throw this.overQuota(usage, needed);
    return room;
  }

  private overQuota(usage: RepositoryUsage, size?: number): ShelfError {
    const quota = this.config.quotaBytes ?? 0;
    return new ShelfError(
      'QUOTA_EXCEEDED',
      413,
      `repository ${this.key} is over its quota: ${formatByteSize(usage.bytes)} of ${formatByteSize(quota)} (quotaBytes) used` +
        `${size === undefined ? '' : `; ${formatByteSize(size)} more does not fit`}. Delete content or raise the quota`,
    );
  }

  async delete(path: string): Promise<void> {
    if (!this.config.allowDelete) throw forbidden(`repository ${this.key} does not allow deletion`);
    await this.prune(path);
  }

  /** Removes a path by the repository's own retention rules, which deletion protection does not cover. */
  async prune(path: string): Promise<void> {
    if (!(await this.ctx.index.deleteArtifact(this.key, path))) throw notFound(`${this.key}/${path}`);
  }
}
