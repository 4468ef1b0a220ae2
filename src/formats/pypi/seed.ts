import { itemsOf, type SeedItem, type SeedSession } from '../../seed/seeder.js';
import { pypiPaths } from './names.js';
import { filesToSeed, parseRequirements, type PinnedRequirement, type TargetEnvironments } from './requirements.js';
import { parseProjectPage, SIMPLE_JSON, type ProjectFile } from './simple-api.js';

/** `shelf seed` from a requirements.txt: each pinned release's files for the targets (and their core metadata), and the project pages. */
export function pypiSeedItems(text: string, targets: TargetEnvironments): SeedItem[] {
  return itemsOf(parseRequirements(text), (session, pin: PinnedRequirement) => seedRelease(session, pin, targets));
}

async function seedRelease(session: SeedSession, pin: PinnedRequirement, targets: TargetEnvironments): Promise<void> {
  const files = await session.shared(`page:${pin.project}`, async () => {
    const page = await session.document(`/${encodeURIComponent(session.repo)}/simple/${pin.project}/`, SIMPLE_JSON);
    return parseProjectPage(page.body.toString('utf8'), String(page.headers['content-type'] ?? SIMPLE_JSON), page.url.href);
  });
  const chosen: ProjectFile[] = filesToSeed(files, pin, targets);
  if (chosen.length === 0) {
    const why = pin.hashes.length > 0 ? 'no file has one of the hashes the requirements name' : 'no file of that version fits the targets';
    throw new Error(`${pin.project}==${pin.version}: ${why} (${files.length} files listed in ${session.repo})`);
  }
  session.keep(pypiPaths.page(pin.project));
  for (const file of chosen) {
    await session.file(file.url);
    const path = session.repoPath(new URL(file.url));
    session.keep(path);
    session.keep(pypiPaths.fileRecord(pin.project, file.filename));
    session.keep(pypiPaths.yank(pin.project, file.filename));
    // pip reads the core metadata first when the page says it is there: it must be there offline too.
    if (file.coreMetadata !== undefined) {
      await session.file(`${file.url}.metadata`);
      session.keep(`${path}.metadata`);
    }
  }
}
