import type { SeedItem } from '../../seed/seeder.js';
import type { BlobExpectation } from '../../storage/blob-store.js';
import { expectationFromDist } from './integrity.js';
import { lockedPackages, type LockedPackage } from './lockfile.js';
import { encodePackageName, npmPaths } from './names.js';

interface Packument {
  versions?: Record<string, { dist?: { tarball?: string; integrity?: string; shasum?: string } }>;
}

/** `shelf seed` from an npm, pnpm or yarn lockfile: each pinned version's tarball, and its packument. */
export function npmSeedItems(fileName: string, text: string): SeedItem[] {
  return lockedPackages(fileName, text).map((pkg) => ({ label: `${pkg.name}@${pkg.version}`, run: (session) => seedVersion(session, pkg) }));
}

async function seedVersion(session: Parameters<SeedItem['run']>[0], { name, version, integrity }: LockedPackage): Promise<void> {
  const packument = await session.shared(`packument:${name}`, async () => {
    const { body } = await session.document(`/${encodeURIComponent(session.repo)}/${encodePackageName(name)}`, 'application/json');
    return JSON.parse(body.toString('utf8')) as Packument;
  });
  const dist = packument.versions?.[version]?.dist;
  if (!dist?.tarball) throw new Error(`${name} has no version ${version} in ${session.repo}`);
  if (integrity && !agrees(expectationFromDist({ integrity }), expectationFromDist(dist))) {
    throw new Error(`the lockfile's integrity of ${name}@${version} is not the registry's (${dist.integrity ?? dist.shasum}); the lockfile was made against other content`);
  }
  const tarball = session.client.resolve(dist.tarball);
  await session.file(tarball.href);
  for (const path of [npmPaths.packument(name), npmPaths.version(name, version), npmPaths.deprecation(name, version)]) session.keep(path);
  session.keep(`${npmPaths.hostedPrefix(name)}dist-tags/`);
  session.keep(session.repoPath(tarball));
}

/** Two expectations agree when every digest both name is the same. */
function agrees(a: BlobExpectation, b: BlobExpectation): boolean {
  const algorithms = (['sha512', 'sha256', 'sha1'] as const).filter((algorithm) => a[algorithm] !== undefined && b[algorithm] !== undefined);
  return algorithms.every((algorithm) => a[algorithm] === b[algorithm]);
}
