import type { LocalRepoConfig } from '../config/schema.js';
import { conflict, forbidden, notFound } from '../errors.js';
import type { StoredBlob } from '../storage/blob-store.js';
import type { ArtifactRecord, ListOptions } from '../storage/metadata-index.js';
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
    const blob = await this.ctx.blobs.write(source, {
      ...(options.expect && { expect: options.expect }),
      ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }),
    });
    return this.link(path, blob, options.contentType);
  }

  async link(path: string, blob: StoredBlob, contentType: string): Promise<ArtifactRecord> {
    const result = await this.ctx.index.putArtifact(
      { repo: this.key, path, blob, contentType },
      this.rules.overwritePolicy(path),
    );
    if ('conflict' in result) {
      throw conflict(`${this.key}/${path} is already deployed with other content and this repository does not allow redeploy`);
    }
    return result.stored;
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
