import type { RequestContext } from '../../http/request-context.js';
import { sendJson } from '../../http/respond.js';
import type { Repository } from '../../repos/repository.js';
import { leafMembers } from '../package-routing.js';
import type { PackumentViews } from './packument-views.js';

/** The package name in a path below `.npm/` (hosted versions or a cached packument). */
const PACKAGE_IN_PATH = /^\.npm\/((?:@[^/]+\/)?[^/]+)\//;
const MAX_RESULTS = 250;

/**
 * `npm search` (`/-/v1/search?text=&size=&from=`) over what the repository holds: hosted packages and
 * packages already cached from upstream, as far as the caller may read them. Names containing every word of
 * the text match, exact names first.
 */
export async function searchPackages(
  ctx: RequestContext,
  repo: Repository,
  views: PackumentViews,
  /** Whether the caller may read a package in a repository: results show nothing else. */
  mayRead: (repo: Repository, name: string) => boolean,
): Promise<void> {
  const params = ctx.url.searchParams;
  const words = (params.get('text') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const size = Math.min(Math.max(Number(params.get('size')) || 20, 1), MAX_RESULTS);
  const from = Math.max(Number(params.get('from')) || 0, 0);

  const names = new Set<string>();
  for (const leaf of leafMembers(repo)) {
    for (const record of await leaf.list({ prefix: '.npm/', ...(words[0] && { contains: words[0] }) })) {
      const name = PACKAGE_IN_PATH.exec(record.path)?.[1];
      if (name && !names.has(name) && words.every((w) => name.toLowerCase().includes(w)) && mayRead(repo, name)) names.add(name);
    }
  }
  const text = words.join(' ');
  const ranked = [...names].sort((a, b) => Number(b === text) - Number(a === text) || a.localeCompare(b));
  const objects = [];
  for (const name of ranked.slice(from, from + size)) {
    const view = await views.view(repo, name).catch(() => undefined);
    if (!view) continue;
    const { maintainers, ...summary } = view.summary;
    objects.push({
      package: {
        ...summary,
        scope: name.startsWith('@') ? name.slice(1, name.indexOf('/')) : 'unscoped',
        maintainers: (maintainers ?? []).map(asSearchMaintainer),
      },
      score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
      searchScore: name === text ? 1 : 0.5,
    });
  }
  sendJson(ctx, 200, { objects, total: ranked.length, time: new Date().toUTCString() });
}

/** Packuments list maintainers as `{ name, email }`; search results as `{ username, email }`. */
function asSearchMaintainer(maintainer: unknown): { username: string; email?: string } {
  const m = (typeof maintainer === 'object' && maintainer !== null ? maintainer : {}) as Record<string, unknown>;
  const username = typeof m.username === 'string' ? m.username : typeof m.name === 'string' ? m.name : '';
  return { username, ...(typeof m.email === 'string' && { email: m.email }) };
}
