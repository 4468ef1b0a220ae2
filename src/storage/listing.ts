import type { ArtifactRecord, MetadataIndex } from './metadata-index.js';

const PAGE = 1000;

/** Everything a repository holds, in path order, read page by page (for jobs that walk a whole repository). */
export async function* listAll(index: MetadataIndex, repo: string): AsyncIterable<ArtifactRecord> {
  let after = '';
  for (;;) {
    const page = await index.listArtifacts(repo, { after, limit: PAGE });
    yield* page;
    if (page.length < PAGE) return;
    after = page.at(-1)!.path;
  }
}
