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
