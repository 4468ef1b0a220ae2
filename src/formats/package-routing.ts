import { PathPattern } from '../repos/path-pattern.js';
import type { Artifact, GetOptions, Repository } from '../repos/repository.js';
import { fromMembers, VirtualRepo, type MemberValue } from '../repos/virtual-repo.js';

/**
 * Which repositories answer for one package (an npm package, a PyPI project) and in what order, for the
 * formats whose virtual repositories merge per-package metadata. Two rules guard against dependency
 * confusion: a virtual repository's `packageRoutes` pin matching names to chosen members, and a package
 * that any local member holds is never taken from a remote member. Without a name: every leaf member.
 */
export function leafMembers(repo: Repository, packageName?: string): Repository[] {
  if (!(repo instanceof VirtualRepo)) return [repo];
  const route =
    packageName === undefined
      ? undefined
      : repo.config.packageRoutes?.find((r) => r.packages.some((p) => new PathPattern(p).matches(packageName)));
  const members = route ? repo.members.filter((m) => route.members.includes(m.key)) : repo.members;
  const leaves: Repository[] = [];
  for (const member of members) {
    for (const leaf of leafMembers(member, packageName)) if (!leaves.includes(leaf)) leaves.push(leaf);
  }
  return leaves;
}

/**
 * Loads a package's per-member data in member order, with the dependency-confusion rules applied: when a
 * local member has the package, only local members count. A failing remote member is skipped; its error is
 * raised only when no member has the package.
 */
export async function loadPackageMembers<T>(
  repo: Repository,
  packageName: string,
  load: (member: Repository) => Promise<T | undefined>,
): Promise<MemberValue<T>[]> {
  const leaves = leafMembers(repo, packageName);
  const hosted: MemberValue<T>[] = [];
  for (const leaf of leaves.filter((l) => l.type === 'local')) {
    const value = await load(leaf);
    if (value !== undefined) hosted.push({ repo: leaf, value });
  }
  if (hosted.length > 0) return hosted;
  return fromMembers(leaves.filter((l) => l.type !== 'local'), load);
}

/** Which member owns one file of a package, by the package's merged metadata, and how to fetch it there. */
export interface FileOwner {
  repo: string;
  /** How to get the file from that member (what it must hash to, where its upstream keeps it). */
  options(member: Repository): GetOptions;
}

/**
 * One file of a package (an npm tarball, a PyPI distribution). What a repository already holds is served as
 * it is, without consulting metadata: through a virtual repository, from the first member that holds it
 * among those its dependency-confusion rules allow (only local members when one of them hosts the package,
 * `hostedPrefix` being where a local repository records it). So a cached file never waits for its package's
 * metadata to be revalidated. Otherwise the package's metadata names the member that owns the file, where
 * its upstream keeps it and what it must hash to.
 */
export async function packageFile(
  repo: Repository,
  packageName: string,
  path: string,
  hostedPrefix: string,
  owner: () => Promise<FileOwner | undefined>,
): Promise<Artifact | undefined> {
  if (repo.type !== 'virtual' && (await repo.record(path))) return repo.get(path);
  if (repo.type === 'local') return undefined;
  if (repo.type === 'virtual') {
    const leaves = leafMembers(repo, packageName);
    const hosting: Repository[] = [];
    for (const local of leaves.filter((l) => l.type === 'local')) {
      if ((await local.list({ prefix: hostedPrefix, limit: 1 })).length > 0) hosting.push(local);
    }
    const allowed = hosting.length > 0 ? hosting : leaves.filter((l) => l.type !== 'local');
    for (const member of allowed) if (await member.record(path)) return member.get(path);
  }
  const found = await owner();
  if (!found) return undefined;
  const member = leafMembers(repo, packageName).find((m) => m.key === found.repo);
  return member?.get(path, found.options(member));
}
