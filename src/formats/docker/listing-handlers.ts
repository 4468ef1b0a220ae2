import { ShelfError } from '../../errors.js';
import { readAll } from '../../http/request-body.js';
import { sendJson } from '../../http/respond.js';
import type { RequestContext } from '../../http/request-context.js';
import type { Repository } from '../../repos/repository.js';
import { VirtualRepo } from '../../repos/virtual-repo.js';
import type { Principal } from '../../security/permissions.js';
import type { FormatServices } from '../format-module.js';
import type { RegistryRequest } from './image-target.js';
import { listsPresentOnly } from '../member-sources.js';
import { dockerPaths, imageOfTagPath } from './names.js';

const MAX_TAG_LIST_BYTES = 16 * 1024 * 1024;

/**
 * The tags of an image: a local repository's own; a remote's cached tags plus the upstream's list (itself
 * cached for tagTtl, and skipped when the upstream fails); a virtual repository's union of its members'.
 */
export async function imageTags(repo: Repository, image: string): Promise<string[]> {
  const tags = new Set<string>();
  if (repo instanceof VirtualRepo) {
    for (const member of repo.members) {
      for (const tag of await imageTags(member, image).catch(() => [])) tags.add(tag);
    }
    return [...tags].sort();
  }
  const prefix = dockerPaths.tagsPrefix(image);
  for (const record of await repo.list({ prefix })) tags.add(record.path.slice(prefix.length));
  if (repo.type === 'remote') {
    for (const tag of await upstreamTags(repo, image)) tags.add(tag);
  }
  return [...tags].sort();
}

async function upstreamTags(repo: Repository, image: string): Promise<string[]> {
  try {
    const artifact = await repo.get(dockerPaths.upstreamTagList(image));
    // Without its upstream, a remote lists the tags it holds: those a client can pull.
    if (!artifact || listsPresentOnly(repo, artifact.cacheStatus)) return [];
    const doc = JSON.parse((await readAll(await artifact.open(), MAX_TAG_LIST_BYTES)).toString('utf8')) as { tags?: unknown };
    return Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

export async function listTags({ ctx, target }: RegistryRequest): Promise<void> {
  const tags = await imageTags(target.repo, target.image);
  if (tags.length === 0) throw new ShelfError('NAME_UNKNOWN', 404, `repository name ${target.name} is not known`);
  const page = paginate(ctx, tags, `/v2/${target.name}/tags/list`);
  sendJson(ctx, 200, { name: target.name, tags: page.items }, page.headers);
}

/**
 * `/v2/_catalog`: the images of every Docker repository that the caller may pull, named as clients pull
 * them. A registry token's grants name single images, so its catalog is filtered by what its user may read
 * within the scope of the credential the token was issued for.
 */
export async function listCatalog(ctx: RequestContext, services: FormatServices, principal: Principal): Promise<void> {
  const names = new Set<string>();
  const { registryToken, scope: _grants, ...user } = principal;
  const lister = registryToken ? { ...user, ...(registryToken.catalogScope && { scope: registryToken.catalogScope }) } : principal;
  const mayRead = await services.access.readFilter(ctx, lister);
  for (const repo of services.repos.all().filter((r) => r.format === 'docker')) {
    for (const record of await repo.list({ contains: '/_tags/' })) {
      const image = imageOfTagPath(record.path);
      if (mayRead(repo, image)) names.add(`${repo.key}/${image}`);
    }
  }
  const page = paginate(ctx, [...names].sort(), '/v2/_catalog');
  sendJson(ctx, 200, { repositories: page.items }, page.headers);
}

/** `n` and `last` as the distribution spec defines them, with a `Link` to the next page when there is one. */
function paginate(ctx: RequestContext, sorted: string[], path: string) {
  const params = ctx.url.searchParams;
  const last = params.get('last');
  const nParam = params.get('n');
  if (nParam !== null && !/^\d+$/.test(nParam)) throw new ShelfError('PAGINATION_NUMBER_INVALID', 400, `invalid n "${nParam}"`);
  const after = last === null ? sorted : sorted.filter((item) => item > last);
  const n = nParam === null ? after.length : Number(nParam);
  const items = after.slice(0, n);
  const headers: Record<string, string> = {};
  if (items.length > 0 && after.length > items.length) {
    const next = new URLSearchParams({ n: String(n), last: items.at(-1)! });
    headers.link = `<${path}?${next.toString()}>; rel="next"`;
  }
  return { items, headers };
}
