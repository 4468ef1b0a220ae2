import type { ArtifactRecord, MetadataIndex } from './metadata-index.js';

const PAGE = 1000;

/** Everything a repository holds (below `prefix`), in path order, read page by page (for jobs that walk a whole repository). */
export async function* listAll(index: MetadataIndex, repo: string, prefix?: string): AsyncIterable<ArtifactRecord> {
  let after = '';
  for (;;) {
    const page = await index.listArtifacts(repo, { after, limit: PAGE, ...(prefix !== undefined && { prefix }) });
    yield* page;
    if (page.length < PAGE) return;
    after = page.at(-1)!.path;
  }
}

/** Paths read per index query by walkPaths: a few milliseconds of the loop. */
const WALK_WINDOW = 5000;

/**
 * The paths of `repo` after `after` (below `prefix`, when given), in order, read from the index alone a
 * window at a time, with the event loop let go between windows: a walk over a million paths (a name search)
 * must not hold up the requests the process serves meanwhile.
 */
export async function* walkPaths(index: MetadataIndex, repo: string, after = '', prefix = ''): AsyncIterable<string> {
  let cursor = after < prefix ? prefix : after;
  for (;;) {
    const paths = await index.listPaths(repo, cursor, WALK_WINDOW);
    for (const path of paths) {
      if (!path.startsWith(prefix)) return;
      yield path;
    }
    if (paths.length < WALK_WINDOW) return;
    cursor = paths.at(-1)!;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
