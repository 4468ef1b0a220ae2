import type { ArtifactRecord } from '../../storage/metadata-index.js';
import type { GarbagePolicy } from '../format-module.js';
import { parseManifest } from './manifest.js';
import { parseDockerPath } from './names.js';
import { byPackage } from '../package-groups.js';

/** One image's entries in a hosted repository, by kind. */
interface ImageEntries {
  tags: ArtifactRecord[];
  /** By digest. */
  manifests: Map<string, ArtifactRecord>;
  blobs: ArtifactRecord[];
  /** `_referrers/<subject>/<digest>` links. */
  referrers: { record: ArtifactRecord; subject: string; digest: string }[];
}

const digestOf = (record: ArtifactRecord) => `sha256:${record.blob.sha256}`;

/**
 * What a hosted Docker repository no longer needs, image by image, as distribution's `garbage-collect`
 * finds it: a manifest is kept when a tag leads to it (directly, as a child of a kept index, or as a
 * referrer of a kept manifest), or always unless `deleteUntagged`; a layer or config is kept when a kept
 * manifest refers to it. Entries stored after `storedBefore` are kept whatever refers to them: a client
 * pushes layers before the manifest that names them.
 */
export async function* dockerGarbage(listing: AsyncIterable<ArtifactRecord>, policy: GarbagePolicy): AsyncIterable<ArtifactRecord> {
  // An image's entries all start with `<image>/_`, so they come together in path order.
  for await (const { records } of byPackage(listing, (path) => parseDockerPath(path)?.image)) {
    const entries = emptyEntries();
    for (const record of records) {
      const parsed = parseDockerPath(record.path)!;
      if (parsed.kind === 'tag') entries.tags.push(record);
      else if (parsed.kind === 'manifest') entries.manifests.set(parsed.reference, record);
      else if (parsed.kind === 'blob') entries.blobs.push(record);
      else if (parsed.kind === 'referrer') entries.referrers.push({ record, subject: parsed.subject!, digest: parsed.reference });
    }
    yield* await imageGarbage(entries, policy);
  }
}

function emptyEntries(): ImageEntries {
  return { tags: [], manifests: new Map(), blobs: [], referrers: [] };
}

async function imageGarbage(entries: ImageEntries, policy: GarbagePolicy): Promise<ArtifactRecord[]> {
  // Renewed when a manifest pushed since named it (see requireReferences).
  const young = (record: ArtifactRecord) => Math.max(record.createdAt, record.modifiedAt) >= policy.storedBefore;
  const referrersOf = new Map<string, string[]>();
  for (const { subject, digest } of entries.referrers) referrersOf.set(subject, [...(referrersOf.get(subject) ?? []), digest]);

  const roots = policy.deleteUntagged
    ? [...entries.tags.map(digestOf), ...[...entries.manifests.values()].filter(young).map(digestOf)]
    : [...entries.manifests.keys()];
  const keptManifests = new Set<string>();
  const keptBlobs = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const digest = pending.pop()!;
    const record = entries.manifests.get(digest);
    if (keptManifests.has(digest) || !record) continue;
    keptManifests.add(digest);
    // A manifest that cannot be read or parsed fails the whole run rather than losing what it refers to.
    const manifest = parseManifest(await policy.read(record), record.contentType);
    manifest.blobs.forEach((blob) => keptBlobs.add(blob));
    pending.push(...manifest.manifests.map((child) => child.digest), ...(referrersOf.get(digest) ?? []));
  }

  const garbage = entries.blobs.filter((record) => !young(record) && !keptBlobs.has(digestOf(record)));
  if (policy.deleteUntagged) {
    garbage.push(...[...entries.manifests].filter(([digest]) => !keptManifests.has(digest)).map(([, record]) => record));
    garbage.push(
      ...entries.referrers
        .filter(({ subject, digest }) => !keptManifests.has(subject) || !keptManifests.has(digest))
        .map(({ record }) => record),
    );
  }
  return garbage;
}
