import type { Format, RepositoryConfig, ShelfConfig } from '../config/schema.js';
import type { RequestContext } from '../http/request-context.js';
import type { DownloadStats } from '../repos/download-stats.js';
import type { FormatRules, Repository } from '../repos/repository.js';

/** What a format's protocol handlers are given besides the request. */
export interface FormatServices {
  config: ShelfConfig;
  downloads: DownloadStats;
}

/** A package format plugged into the engine: its caching rules and the protocol it speaks at `/<repoKey>/...`. */
export interface FormatModule {
  name: Format;
  rules(config: RepositoryConfig): FormatRules;
  /** Handles a request below `/<repoKey>/`; `segments` are the decoded path segments after the key. */
  handle(ctx: RequestContext, repo: Repository, segments: string[], services: FormatServices): Promise<void>;
}
