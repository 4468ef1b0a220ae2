import type { Format, RepositoryConfig, ShelfConfig } from '../config/schema.js';
import type { RequestContext } from '../http/request-context.js';
import type { DownloadStats } from '../repos/download-stats.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { FormatRules, Repository } from '../repos/repository.js';
import type { UploadSessions } from '../storage/upload-sessions.js';
import type { WorkerPool } from '../workers/pool.js';
import type { Identity } from '../security/identity.js';

/** What a format's protocol handlers are given besides the request. */
export interface FormatServices {
  config: ShelfConfig;
  downloads: DownloadStats;
  repos: RepositoryRegistry;
  uploads: UploadSessions;
  /** Worker threads for CPU-heavy work (large metadata documents). */
  workers: WorkerPool;
  /** Users and tokens, for the clients' own login protocols (npm login). */
  identity: Identity;
}

export type SegmentHandler = (ctx: RequestContext, segments: string[], services: FormatServices) => Promise<void>;

/** A package format plugged into the engine: its caching rules and the protocol it speaks. */
export interface FormatModule {
  name: Format;
  rules(config: RepositoryConfig): FormatRules;
  /** Handles a request below `/<repoKey>/`; `segments` are the decoded path segments after the key. */
  handle(ctx: RequestContext, repo: Repository, segments: string[], services: FormatServices): Promise<void>;
  /** Protocol endpoints at Shelf's root that the format's clients insist on (Docker's `/v2/`), by first segment. */
  rootRoutes?: Record<string, SegmentHandler>;
  /** The format's REST endpoints below `/api/<format>/`. */
  api?: SegmentHandler;
}

/** A format's state for one serving process (its caches), made on first use from that process's services. */
export function perProcess<T>(create: (services: FormatServices) => T): (services: FormatServices) => T {
  const made = new WeakMap<FormatServices, T>();
  return (services) => {
    let value = made.get(services);
    if (value === undefined) made.set(services, (value = create(services)));
    return value;
  };
}
