import type { Format, RepositoryConfig, ShelfConfig } from '../config/schema.js';
import type { ShelfError } from '../errors.js';
import type { RequestContext } from '../http/request-context.js';
import type { DownloadStats } from '../repos/download-stats.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { FormatRules, Repository } from '../repos/repository.js';
import type { LocalRepo } from '../repos/local-repo.js';
import type { ArtifactRecord } from '../storage/metadata-index.js';
import type { UploadSessions } from '../storage/upload-sessions.js';
import type { WorkerPool } from '../workers/pool.js';
import type { AccessControl } from '../security/access-control.js';
import type { Action } from '../security/permissions.js';

/** What a format's protocol handlers are given besides the request. */
export interface FormatServices {
  config: ShelfConfig;
  downloads: DownloadStats;
  repos: RepositoryRegistry;
  uploads: UploadSessions;
  /** Worker threads for CPU-heavy work (large metadata documents). */
  workers: WorkerPool;
  /** Who is calling and what they may do; also users and tokens, for the clients' own login protocols. */
  access: AccessControl;
}

export type SegmentHandler = (ctx: RequestContext, segments: string[], services: FormatServices) => Promise<void>;

/**
 * The permission a request below `/<repoKey>/` needs: an action and its subject (the package, image or path
 * that include/exclude patterns are matched against). No subject: the action anywhere in the repository
 * (the handler asks again once the subject is known, as for an upload that names its project in the body).
 */
export interface AccessNeed {
  action: Action;
  subject?: string;
}

/** What the garbage collector lets a format remove from a hosted repository. */
export interface GarbagePolicy {
  /** Only entries stored before this time (ms): newer ones may belong to a push still under way. */
  storedBefore: number;
  /** Docker: manifests no tag leads to go too (distribution's `garbage-collect --delete-untagged`). */
  deleteUntagged: boolean;
  /** A stored file's bytes (verified), for formats that must read their documents to know what they refer to. */
  read(record: ArtifactRecord): Promise<Buffer>;
}

/** One version of a hosted package, as retention sees it. */
export interface HostedVersion {
  /** npm name, normalized PyPI project, Maven `group/path/artifactId`: what retention patterns match. */
  package: string;
  version: string;
  /** When its first file was stored. */
  publishedAt: number;
}

/** How retention finds and removes a format's hosted versions. */
export interface RetentionRules {
  /** The versions in a hosted repository's listing (in path order), package by package, each package's newest first. */
  versions(listing: AsyncIterable<ArtifactRecord>): AsyncIterable<HostedVersion[]>;
  /** Removes one version and everything that belongs to it alone (deletion protection does not apply). */
  remove(repo: LocalRepo, version: HostedVersion): Promise<void>;
}

/** What a promotion (copy, move) names: a path (a file, or a folder and all below it), or a package version. */
export type PromotionSelection = { path: string } | { package: string; version: string };

/** How a format's content is promoted whole (a version with its records), for formats whose files do not stand alone. */
export interface PromotionRules {
  /** Every path that goes with the selection: an npm version's manifest and tarball, a PyPI release's files and records. */
  paths(source: Repository, selection: PromotionSelection): Promise<string[]>;
  /** After the paths were linked into the target: dist-tags as asked (npm). */
  promoted?(target: LocalRepo, selection: PromotionSelection, paths: string[], distTags: string[]): Promise<void>;
}

/** A package format plugged into the engine: its caching rules and the protocol it speaks. */
export interface FormatModule {
  name: Format;
  rules(config: RepositoryConfig): FormatRules;
  /**
   * The permission a request below `/<repoKey>/` needs, checked by the engine before `handle` runs; null for
   * the few endpoints anyone may call (a login, a ping). Throws for a path the format does not serve.
   */
  accessNeed(method: string, segments: string[]): AccessNeed | null;
  /**
   * The permission subject of a path in the repository layout (the package, project or image it belongs to;
   * the path itself for files): what listings filter by. Undefined for the repository's own documents.
   */
  subjectOf(path: string): string | undefined;
  /**
   * Where a client downloads the file stored at `path` (a path below Shelf's root), when not at
   * `/<repoKey>/<path>`; undefined for what is kept but not served as it is stored.
   */
  downloadPath?(repoKey: string, path: string): string | undefined;
  /** Handles a request below `/<repoKey>/`; `segments` are the decoded path segments after the key. */
  handle(ctx: RequestContext, repo: Repository, segments: string[], services: FormatServices): Promise<void>;
  /** Answers an error in the protocol's own error body (what its client prints); Shelf's JSON errors when absent. */
  sendError?(ctx: RequestContext, err: ShelfError): void;
  /** Protocol endpoints at Shelf's root that the format's clients insist on (Docker's `/v2/`), by first segment. */
  rootRoutes?: Record<string, SegmentHandler>;
  /** The format's REST endpoints below `/api/<format>/`. */
  api?: SegmentHandler;
  /**
   * Entries of a hosted repository that nothing needs any more (Docker: layers no kept manifest refers to),
   * found in its listing (in path order); formats whose files stand alone have none.
   */
  garbage?(listing: AsyncIterable<ArtifactRecord>, policy: GarbagePolicy): AsyncIterable<ArtifactRecord>;
  /** Formats with versioned packages: what retention policies act on. */
  retention?: RetentionRules;
  /** Formats whose versions are more than a folder of files; others promote paths as they are. */
  promotion?: PromotionRules;
}

/** The permission of a request to a file at a path (generic files, Maven): the path is the subject. */
export function fileAccessNeed(method: string, path: string): AccessNeed {
  const action: Action = method === 'PUT' ? 'write' : method === 'DELETE' ? 'delete' : 'read';
  return { action, subject: path };
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
