import { badRequest, methodNotAllowed, notFound } from '../errors.js';
import { sendJson } from '../http/respond.js';
import type { RequestContext } from '../http/request-context.js';
import { joinPlainSegments } from '../repos/repo-path.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { Repository } from '../repos/repository.js';
import { isHexDigest } from '../storage/checksums.js';
import type { ArtifactRecord, ChecksumQuery, MetadataIndex } from '../storage/metadata-index.js';
import { parsePropertiesParam } from './property-syntax.js';
import { formatModule } from '../formats/index.js';
import { leafMembers } from '../formats/package-routing.js';
import type { AccessControl } from '../security/access-control.js';
import type { SecurityApi } from './security-api.js';
import type { SystemApi } from './system-api.js';
import type { ReplicationApi } from './replication-api.js';
import { PromotionApi } from './promotion-api.js';
import type { DiskGuard } from '../storage/disk-guard.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Shelf's REST API under /api/, shaped like Artifactory's where the two overlap. */
export class RestApi {
  private readonly promotion: PromotionApi;

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
  }

  async handle(ctx: RequestContext, segments: string[]): Promise<void> {
    const [area, ...rest] = segments;
    if (area === 'security') return this.security.handle(ctx, rest);
    if (area === 'system') return this.system.handle(ctx, rest);
    if (area === 'import' && rest.length === 0) return this.system.handleImport(ctx);
    if (area === 'bundles' && rest.length === 0) return this.system.handleBundles(ctx);
    if (area === 'export' && rest.length === 0) return this.replication.export(ctx);
    if (area === 'export' && rest.length === 1 && rest[0] === 'paths') return this.replication.paths(ctx);
    if (area === 'replication') return this.replication.handle(ctx, rest);
    if (area === 'copy' || area === 'move' || area === 'promote') return this.promotion.handle(ctx, area, rest);
    if (area === 'repositories' && rest.length === 0) return this.listRepositories(ctx);
    if (area === 'storage' && rest.length === 1 && rest[0] === 'summary') return this.storageSummary(ctx);
    if (area === 'storage' && rest.length > 0) return this.storage(ctx, rest);
    if (area === 'search' && rest.length === 1 && rest[0] === 'checksum') return this.checksumSearch(ctx);
    throw notFound(`API endpoint /api/${segments.join('/')}`);
  }

  /** The repositories the caller may read something in. */
  private async listRepositories(ctx: RequestContext): Promise<void> {
    allow(ctx, ['GET', 'HEAD']);
    const mayRead = await this.access.readFilter(ctx);
    const readable = this.repos.all().filter((repo) => mayRead(repo));
    sendJson(
      ctx,
      200,
      readable.map((repo) => ({
        key: repo.key,
        type: repo.type.toUpperCase(),
        packageType: repo.format,
        description: repo.config.description ?? '',
        url: `${ctx.baseUrl}/${repo.key}/`,
      })),
    );
  }

  /** Artifactory's storage summary: per repository its files, bytes, quota and cache hit ratio (administrators). */
  private async storageSummary(ctx: RequestContext): Promise<void> {
    allow(ctx, ['GET', 'HEAD']);
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
            cacheHitRatio: cacheHits + cacheMisses === 0 ? null : cacheHits / (cacheHits + cacheMisses),
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
      allow(ctx, ['GET', 'HEAD']);
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
        return sendJson(ctx, 200, await this.fileInfo(ctx, record));
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

  private async fileInfo(ctx: RequestContext, record: ArtifactRecord) {
    const { sha256, sha1, md5, size } = record.blob;
    return {
      repo: record.repo,
      path: `/${record.path}`,
      created: iso(record.createdAt),
      lastModified: iso(record.modifiedAt),
      lastUpdated: iso(record.cache?.fetchedAt ?? record.modifiedAt),
      downloadUri: `${ctx.baseUrl}/${record.repo}/${record.path}`,
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

  /** A folder's children; a folder with nothing the caller may read below it does not exist for them. */
  private async folderInfo(ctx: RequestContext, repo: Repository, segments: string[]): Promise<void> {
    const path = segments.length === 0 ? '' : joinPlainSegments(segments);
    const prefix = path === '' ? '' : `${path}/`;
    const mayRead = await this.access.readFilter(ctx);
    const { subjectOf } = formatModule(repo.format);
    const children = await this.children(repo, prefix, (file) => mayRead(repo, subjectOf(file)));
    if (children.length === 0 && path !== '') throw notFound(`${repo.key}/${path}/`);
    sendJson(ctx, 200, {
      repo: repo.key,
      path: `/${path}`,
      children,
      uri: `${ctx.baseUrl}/api/storage/${repo.key}/${path}`,
    });
  }

  /**
   * Immediate children (files and folders) below `prefix`, from every repository a virtual one covers: the
   * files `visible` accepts, and the folders holding at least one such file.
   */
  private async children(repo: Repository, prefix: string, visible: (path: string) => boolean): Promise<{ uri: string; folder: boolean }[]> {
    const seen = new Map<string, boolean>();
    for (const { key } of leafMembers(repo)) {
      for (const record of await this.index.listArtifacts(key, { prefix })) {
        if (!visible(record.path)) continue;
        const rest = record.path.slice(prefix.length);
        const slash = rest.indexOf('/');
        const name = slash === -1 ? rest : rest.slice(0, slash);
        if (!seen.has(name)) seen.set(name, slash !== -1);
      }
    }
    return [...seen].map(([name, folder]) => ({ uri: `/${name}`, folder }));
  }

  private async checksumSearch(ctx: RequestContext): Promise<void> {
    allow(ctx, ['GET', 'HEAD']);
    const query = checksumQuery(ctx.url.searchParams);
    const mayRead = await this.access.readFilter(ctx);
    const readable = (await this.index.findByChecksum(query)).filter((record) => {
      const repo = this.repos.get(record.repo);
      return repo !== undefined && mayRead(repo, formatModule(repo.format).subjectOf(record.path));
    });
    sendJson(ctx, 200, {
      results: readable.map((r) => ({ repo: r.repo, path: `/${r.path}`, uri: `${ctx.baseUrl}/api/storage/${r.repo}/${r.path}` })),
    });
  }
}

function allow(ctx: RequestContext, methods: string[]): void {
  if (!methods.includes(ctx.method)) throw methodNotAllowed(ctx.method, methods);
}

function checksumQuery(params: URLSearchParams): ChecksumQuery {
  for (const alg of ['sha256', 'sha1', 'md5'] as const) {
    const value = params.get(alg)?.toLowerCase();
    if (value === undefined) continue;
    if (!isHexDigest(alg, value)) throw badRequest(`${alg} is not a ${alg} hex digest`);
    return { [alg]: value } as ChecksumQuery;
  }
  throw badRequest('give one of sha256=, sha1= or md5=');
}


