import type { ArtifactRecord } from '../storage/metadata-index.js';

/**
 * A repository listing's records grouped by the package (image, project) each belongs to, for layouts in
 * which one package's paths come together in path order; records of no package are skipped.
 */
export async function* byPackage(
  listing: AsyncIterable<ArtifactRecord>,
  packageOf: (path: string) => string | undefined,
): AsyncIterable<{ name: string; records: ArtifactRecord[] }> {
  let group: { name: string; records: ArtifactRecord[] } | undefined;
  for await (const record of listing) {
    const name = packageOf(record.path);
    if (name === undefined) continue;
    if (group?.name !== name) {
      if (group) yield group;
      group = { name, records: [] };
    }
    group.records.push(record);
  }
  if (group) yield group;
}
