import { badRequest, methodNotAllowed, notFound } from '../errors.js';
import { sendJson } from '../http/respond.js';
import { allowMethods, type RequestContext } from '../http/request-context.js';
import { joinPlainSegments } from '../repos/repo-path.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { Repository } from '../repos/repository.js';
import type { ArtifactRecord, MetadataIndex, RepositoryUsage } from '../storage/metadata-index.js';
import { RemoteRepo } from '../repos/remote-repo.js';
import { VirtualRepo } from '../repos/virtual-repo.js';
import { isNarrowed } from '../security/permissions.js';
import { folderPage } from './folder-page.js';
import { parsePropertiesParam } from './property-syntax.js';
import { formatModule } from '../formats/index.js';
import { leafMembers } from '../formats/package-routing.js';
import type { AccessControl } from '../security/access-control.js';
import type { SecurityApi } from './security-api.js';
import type { SystemApi } from './system-api.js';
import type { ReplicationApi } from './replication-api.js';
import { PromotionApi } from './promotion-api.js';
import { SearchApi } from './search-api.js';
import { SessionApi } from './session-api.js';
import { pageLimit } from './api-params.js';
import type { DiskGuard } from '../storage/disk-guard.js';

/** The share of cached answers among a remote's answers; null before it answered any. */
const hitRatio = (hits: number, misses: number) => (hits + misses === 0 ? null : hits / (hits + misses));

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Shelf's REST API under /api/, shaped like Artifactory's where the two overlap. */
export class RestApi {
  private readonly promotion: PromotionApi;
  private readonly search: SearchApi;
  private readonly session: SessionApi;

  constructor(
    private readonly repos: RepositoryRegistry,
    private readonly index: MetadataIndex,
    private readonly access: AccessControl,
    private readonly security: SecurityApi,
    private readonly system: SystemApi,
    private readonly disk: DiskGuard,
    private readonly replication: ReplicationApi,
  ) {
    this.promotion = new PromotionApi(repos, access);
    this.search = new SearchApi(repos, index, access);
    this.session = new SessionApi(access);
  }

  async handle(ctx: RequestContext, segments: string[]): Promise<void> {
    const [area, ...rest] = segments;
    if (area === 'session' && rest.length === 0) return this.session.handle(ctx);
    if (area === 'security') return this.security.handle(ctx, rest);
    if (area === 'system') return this.system.handle(ctx, rest);
    if (area === 'import' && rest.length === 0) return this.system.handleImport(ctx);
    if (area === 'bundles' && rest.length === 0) return this.system.handleBundles(ctx);
    if (area === 'export' && rest.length === 0) return this.replication.export(ctx);
    if (area === 'export' && rest.length === 1 && rest[0] === 'paths') return this.replication.paths(ctx);
    if (area === 'replication') return this.replication.handle(ctx, rest);
    if (area === 'copy' || area === 'move' || area === 'promote') return this.promotion.handle(ctx, area, rest);
    if (area === 'repositories' && rest.length <= 1) return this.repositories(ctx, rest[0]);
    if (area === 'storage' && rest.length === 1 && rest[0] === 'summary') return this.storageSummary(ctx);
    if (area === 'storage' && rest.length > 0) return this.storage(ctx, rest);
    if (area === 'search' && rest.length === 1) return this.search.handle(ctx, rest[0]!);
    throw notFound(`API endpoint /api/${segments.join('/')}`);
  }

  /**
   * The repositories the caller may read something in, with what each holds, its cache hit ratio and, for a
   * remote one, its upstream's state; `/api/repositories/<key>` adds, for administrators, its configuration.
   */
  private async repositories(ctx: RequestContext, key: string | undefined): Promise<void> {
    allowMethods(ctx, ['GET', 'HEAD']);
    const mayRead = await this.access.readFilter(ctx);
    if (key === undefined) {
      const usage = new Map((await this.index.repositoryUsage()).map((u) => [u.repo, u]));
      const described = [];
      for (const repo of this.repos.all().filter((r) => mayRead(r))) described.push(await this.describe(ctx, repo, usage.get(repo.key)));
      return sendJson(ctx, 200, described);
    }
    const repo = this.repos.get(key);
    if (!repo || !mayRead(repo)) throw notFound(`repository ${key}`);
    const principal = await this.access.principal(ctx);
    const administrator = principal.admin && !isNarrowed(principal);
    const described = await this.describe(ctx, repo, await this.index.usageOf(repo.key));
    sendJson(ctx, 200, { ...described, ...(administrator && { configuration: withoutSecrets(repo.config) }) });
  }

  private async describe(ctx: RequestContext, repo: Repository, usage: RepositoryUsage | undefined) {
    const { files = 0, bytes = 0, cacheHits = 0, cacheMisses = 0 } = usage ?? {};
    return {
      key: repo.key,
      type: repo.type.toUpperCase(),
      packageType: repo.format,
      description: repo.config.description ?? '',
      url: `${ctx.baseUrl}/${repo.key}/`,
      ...(repo instanceof VirtualRepo
        ? { members: repo.members.map((m) => m.key), ...(repo.config.defaultDeployRepo && { defaultDeployRepo: repo.config.defaultDeployRepo }) }
        : { filesCount: files, usedSpace: bytes }),
      ...(repo instanceof RemoteRepo && {
        cacheHitRatio: hitRatio(cacheHits, cacheMisses),
        upstream: await repo.upstreamStatus().then(({ assumedOfflineUntil, blockedUntil, ...status }) => ({
          ...status,
          ...(assumedOfflineUntil !== undefined && { assumedOfflineUntil: iso(assumedOfflineUntil) }),
          ...(blockedUntil !== undefined && { blockedUntil: iso(blockedUntil) }),
        })),
      }),
    };
  }

  /** Artifactory's storage summary: per repository its files, bytes, quota and cache hit ratio (administrators). */
  private async storageSummary(ctx: RequestContext): Promise<void> {
    allowMethods(ctx, ['GET', 'HEAD']);
    await this.access.administrator(ctx);
    const usage = new Map((await this.index.repositoryUsage()).map((u) => [u.repo, u]));
    const { freeBytes, minFreeBytes } = await this.disk.space();
    sendJson(ctx, 200, {
      binariesSummary: { binariesSize: await this.index.storageBytes() },
      fileStoreSummary: { freeSpace: freeBytes, minFreeSpace: minFreeBytes },
      repositoriesSummaryList: this.repos.all().map((repo) => {
        const { files = 0, bytes = 0, cacheHits = 0, cacheMisses = 0 } = usage.get(repo.key) ?? {};
        return {
          repoKey: repo.key,
          repoType: repo.type.toUpperCase(),
          packageType: repo.format,
          filesCount: files,
          usedSpace: bytes,
          ...(repo.config.type === 'local' && repo.config.quotaBytes !== undefined && { quotaBytes: repo.config.quotaBytes }),
          ...(repo.type === 'remote' && {
            cacheHits,
            cacheMisses,
            cacheHitRatio: hitRatio(cacheHits, cacheMisses),
          }),
        };
      }),
    });
  }

  private async storage(ctx: RequestContext, [repoKey, ...pathSegments]: string[]): Promise<void> {
    const repo = this.repos.get(repoKey!);
    if (!repo) throw notFound(`repository ${repoKey}`);
    const folder = pathSegments.length === 0 || pathSegments.at(-1) === '';
    if (folder) {
      allowMethods(ctx, ['GET', 'HEAD']);
      await this.access.require(ctx, 'read', repo);
      return this.folderInfo(ctx, repo, pathSegments.filter((s) => s !== ''));
    }
    const path = joinPlainSegments(pathSegments);
    const changing = ctx.method === 'PUT' || ctx.method === 'DELETE';
    const record = await repo.record(path);
    if (!record && ctx.method === 'GET') {
      await this.access.require(ctx, 'read', repo);
      return this.folderInfo(ctx, repo, pathSegments);
    }
    await this.access.require(ctx, changing ? 'annotate' : 'read', repo, formatModule(repo.format).subjectOf(path));
    if (!record) throw notFound(`${repo.key}/${path}`);
    const properties = ctx.url.searchParams.get('properties');
    switch (ctx.method) {
      case 'GET':
      case 'HEAD':
        return sendJson(ctx, 200, await this.fileInfo(ctx, repo, record));
      case 'PUT':
        if (properties === null) throw badRequest('PUT needs ?properties=key=value;key2=value2');
        await this.index.setProperties(record.repo, record.path, parsePropertiesParam(properties));
        ctx.res.writeHead(204).end();
        return;
      case 'DELETE':
        if (properties === null) throw badRequest('DELETE needs ?properties=key1,key2');
        await this.index.deleteProperties(record.repo, record.path, properties.split(',').filter(Boolean));
        ctx.res.writeHead(204).end();
        return;
      default:
        throw methodNotAllowed(ctx.method, ['GET', 'HEAD', 'PUT', 'DELETE']);
    }
  }

  private async fileInfo(ctx: RequestContext, repo: Repository, record: ArtifactRecord) {
    const { sha256, sha1, md5, size } = record.blob;
    return {
      repo: record.repo,
      path: `/${record.path}`,
      created: iso(record.createdAt),
      lastModified: iso(record.modifiedAt),
      lastUpdated: iso(record.cache?.fetchedAt ?? record.modifiedAt),
      ...downloadUri(ctx, repo, record),
      mimeType: record.contentType,
      size: String(size),
      checksums: { sha1, md5, sha256 },
      originalChecksums: { sha1, md5, sha256 },
      properties: await this.index.getProperties(record.repo, record.path),
      stats: { downloadCount: record.downloadCount, lastDownloaded: iso(record.downloadedAt) },
      ...(record.cache && {
        cache: {
          fetchedAt: iso(record.cache.fetchedAt),
          expiresAt: iso(record.cache.expiresAt),
          upstreamEtag: record.cache.upstreamEtag ?? null,
          upstreamLastModified: record.cache.upstreamLastModified ?? null,
        },
      }),
      uri: `${ctx.baseUrl}/api/storage/${record.repo}/${record.path}`,
    };
  }

  /**
   * A folder's children, a page at a time (`?limit=`, `?from=` the `next` of the previous page), from every
   * repository a virtual one covers. A folder with nothing the caller may read below it does not exist for them.
   */
  private async folderInfo(ctx: RequestContext, repo: Repository, segments: string[]): Promise<void> {
    const path = segments.length === 0 ? '' : joinPlainSegments(segments);
    const prefix = path === '' ? '' : `${path}/`;
    const given = ctx.url.searchParams.get('from');
    // The cursor is opaque to clients (it may hold characters a URL would rather not).
    const from = given === null ? undefined : Buffer.from(given, 'base64url').toString('utf8');
    const limit = pageLimit(ctx.url.searchParams);
    const visible = await this.visibility(ctx, repo);
    const { children, next } = await folderPage(this.index, leafMembers(repo).map((m) => m.key), prefix, limit, from, visible);
    if (children.length === 0 && path !== '' && from === undefined) throw notFound(`${repo.key}/${path}/`);
    sendJson(ctx, 200, {
      repo: repo.key,
      path: `/${path}`,
      children: children.map((c) => ({
        uri: `/${c.name}`,
        folder: c.folder,
        ...(c.size !== undefined && { size: c.size }),
        ...(c.modifiedAt !== undefined && { lastModified: iso(c.modifiedAt) }),
      })),
      ...(next !== undefined && { next: Buffer.from(next).toString('base64url') }),
      uri: `${ctx.baseUrl}/api/storage/${repo.key}/${path}`,
    });
  }

  /** Which paths of `repo` the caller may read; undefined when all of them (a listing then checks nothing). */
  private async visibility(ctx: RequestContext, repo: Repository): Promise<((path: string) => boolean) | undefined> {
    if (await this.access.readsEverything(ctx, repo)) return undefined;
    const mayRead = await this.access.readFilter(ctx);
    const { subjectOf } = formatModule(repo.format);
    return (path) => mayRead(repo, subjectOf(path));
  }
}

/** A repository's configuration as administrators see it: credentials written into it are not shown. */
function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, /password|token|secret/i.test(k) && typeof v === 'string' ? '(hidden)' : withoutSecrets(v)]),
  );
}

/** Where a client fetches the file: at its repository path, unless its format serves it elsewhere (Docker's /v2/). */
function downloadUri(ctx: RequestContext, repo: Repository, record: ArtifactRecord): { downloadUri?: string } {
  const { downloadPath } = formatModule(repo.format);
  const path = downloadPath ? downloadPath(record.repo, record.path) : `/${record.repo}/${record.path}`;
  return path === undefined ? {} : { downloadUri: `${ctx.baseUrl}${path}` };
}
