import { badRequest, notFound } from '../errors.js';
import { allowMethods, type RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { Repository } from '../repos/repository.js';
import { VirtualRepo } from '../repos/virtual-repo.js';
import { formatModule } from '../formats/index.js';
import type { AccessControl } from '../security/access-control.js';
import { isHexDigest } from '../storage/checksums.js';
import type { ArtifactRecord, ChecksumQuery, MetadataIndex, PropertyQuery } from '../storage/metadata-index.js';
import { pageLimit } from './api-params.js';
import { nameMatcher } from './name-glob.js';
import { walkPaths } from '../storage/listing.js';

/** What the caller may read (AccessControl.readFilter). */
type ReadFilter = Awaited<ReturnType<AccessControl['readFilter']>>;

/** One page of a search within one repository, after `after` (a path), at most `limit`. */
type RepoSearch = (repo: string, limit: number, after: string) => Promise<ArtifactRecord[]>;

/**
 * `/api/search/`: files by checksum (`checksum?sha256=`), by name (`artifact?name=`, a glob over the path)
 * and by property (`prop?key=value&key2=`), shaped like Artifactory's searches. Only what the caller may
 * read is found; name and property searches are paged (`limit`, and `after` from the previous `next`).
 */
export class SearchApi {
  constructor(
    private readonly repos: RepositoryRegistry,
    private readonly index: MetadataIndex,
    private readonly access: AccessControl,
  ) {}

  async handle(ctx: RequestContext, kind: string): Promise<void> {
    allowMethods(ctx, ['GET', 'HEAD']);
    switch (kind) {
      case 'checksum':
        return this.byChecksum(ctx);
      case 'artifact':
        return this.paged(ctx, nameSearch(this.index, ctx.url.searchParams));
      case 'prop':
        return this.paged(ctx, propertySearch(this.index, ctx.url.searchParams));
      default:
        throw notFound(`API endpoint /api/search/${kind}`);
    }
  }

  private async byChecksum(ctx: RequestContext): Promise<void> {
    const query = checksumQuery(ctx.url.searchParams);
    const readable = this.readableBy(await this.access.readFilter(ctx));
    const found = (await this.index.findByChecksum(query)).filter(readable);
    sendJson(ctx, 200, { results: found.map((r) => this.result(ctx, r)) });
  }

  /**
   * Searches the stored repositories (`?repos=a,b`, default all) the caller may read, one after another in
   * key order, until a page is full. Virtual repositories are not searched themselves: their members are.
   */
  private async paged(ctx: RequestContext, search: RepoSearch): Promise<void> {
    const params = ctx.url.searchParams;
    const limit = pageLimit(params);
    const named = params.get('repos')?.split(',').filter(Boolean);
    const [afterRepo = '', afterPath = ''] = splitCursor(params.get('after'));
    const mayRead = await this.access.readFilter(ctx);
    const readable = this.readableBy(mayRead);
    const stored = this.repos
      .all()
      .filter((repo) => !(repo instanceof VirtualRepo) && (named === undefined || named.includes(repo.key)) && mayRead(repo))
      .map((repo) => repo.key)
      .filter((key) => key >= afterRepo)
      .sort();
    const results: ArtifactRecord[] = [];
    let next: string | undefined;
    for (const key of stored) {
      let after = key === afterRepo ? afterPath : '';
      while (results.length < limit) {
        const wanted = limit - results.length;
        const page = await search(key, wanted, after);
        results.push(...page.filter(readable));
        if (page.length < wanted) break;
        after = page.at(-1)!.path;
      }
      if (results.length >= limit) {
        next = `${key}/${results.at(-1)!.path}`;
        break;
      }
    }
    sendJson(ctx, 200, { results: results.map((r) => this.result(ctx, r)), ...(next !== undefined && { next }) });
  }

  /** Whether `mayRead` (the caller's read filter) covers a found file. */
  private readableBy(mayRead: ReadFilter): (record: ArtifactRecord) => boolean {
    return (record) => {
      const repo: Repository | undefined = this.repos.get(record.repo);
      return repo !== undefined && mayRead(repo, formatModule(repo.format).subjectOf(record.path));
    };
  }

  private result(ctx: RequestContext, r: ArtifactRecord) {
    return {
      repo: r.repo,
      path: `/${r.path}`,
      size: r.blob.size,
      lastModified: new Date(r.modifiedAt).toISOString(),
      uri: `${ctx.baseUrl}/api/storage/${r.repo}/${r.path}`,
    };
  }
}

/** `after=<repo>/<path>`: where the previous page ended. */
function splitCursor(after: string | null): [string, string] | [] {
  if (!after) return [];
  const slash = after.indexOf('/');
  if (slash <= 0) throw badRequest('after is the "next" of the previous page');
  return [after.slice(0, slash), after.slice(slash + 1)];
}

/** `name=`: see nameMatcher. The paths are walked a window at a time; the matches' records are then read one by one. */
function nameSearch(index: MetadataIndex, params: URLSearchParams): RepoSearch {
  const name = params.get('name')?.trim();
  if (!name) throw badRequest('give name= (a file name, package or path; * and ? match any text and any character)');
  const matches = nameMatcher(name);
  return async (repo, limit, after) => {
    const found: ArtifactRecord[] = [];
    for await (const path of walkPaths(index, repo, after)) {
      if (!matches(path)) continue;
      const record = await index.getArtifact(repo, path);
      if (record) found.push(record);
      if (found.length >= limit) break;
    }
    return found;
  };
}

/** Every parameter but `repos`, `limit` and `after` is a property that must be set (with that value, unless empty). */
function propertySearch(index: MetadataIndex, params: URLSearchParams): RepoSearch {
  const query: PropertyQuery = [...params].filter(([key]) => !['repos', 'limit', 'after'].includes(key));
  if (query.length === 0) throw badRequest('give at least one property, as key=value (or key= for any value)');
  return (repo, limit, after) => index.findByProperties(repo, query, limit, after);
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
