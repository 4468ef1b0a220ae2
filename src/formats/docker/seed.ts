import { itemsOf, type SeedItem, type SeedSession } from '../../seed/seeder.js';
import { parseImageList, type ImageReference, type Platform } from './image-list.js';
import { ACCEPTED_MANIFEST_TYPES, MEDIA_TYPES, parseManifest, type Descriptor } from './manifest.js';
import { dockerPaths, hexOf } from './names.js';

/**
 * `shelf seed` from an image list: each image's manifest (an index with all its platforms, or the ones
 * named), every blob they refer to, and the referrers (signatures, SBOMs) of each manifest when the
 * registry has them: everything `skopeo copy --all` reads.
 */
export function dockerSeedItems(text: string, platforms: Platform[]): SeedItem[] {
  return itemsOf(parseImageList(text), (session, reference: ImageReference) => seedImage(session, reference, platforms));
}

async function seedImage(session: SeedSession, reference: ImageReference, platforms: Platform[]): Promise<void> {
  const base = `/v2/${encodeURIComponent(session.repo)}/${reference.image}`;
  const top = reference.digest ?? reference.tag!;
  const digest = await seedManifest(session, base, reference.image, top, platforms, reference.digest);
  if (reference.tag) session.keep(dockerPaths.tag(reference.image, reference.tag));
  if (reference.digest && digest !== reference.digest) throw new Error(`${reference.line}: the registry's manifest is ${digest}`);
}

/** A manifest and all it refers to; returns its digest. */
async function seedManifest(session: SeedSession, base: string, image: string, reference: string, platforms: Platform[], expected?: string): Promise<string> {
  const { body, headers } = await session.document(`${base}/manifests/${reference}`, ACCEPTED_MANIFEST_TYPES.join(', '));
  const digest = String(headers['docker-content-digest'] ?? expected ?? '');
  if (!digest.startsWith('sha256:')) throw new Error(`${base}/manifests/${reference} came without a digest`);
  const manifest = parseManifest(body, String(headers['content-type'] ?? ''));
  session.keep(dockerPaths.manifest(image, digest));
  for (const child of manifest.manifests.filter((descriptor) => wanted(descriptor, platforms))) {
    await seedManifest(session, base, image, child.digest, platforms, child.digest);
  }
  for (const blob of manifest.blobs) {
    await session.file(`${base}/blobs/${blob}`);
    session.keep(dockerPaths.blob(image, blob));
  }
  await seedReferrers(session, base, image, digest);
  return digest;
}

/** The OCI referrers of a manifest, each seeded like a manifest of its own. */
async function seedReferrers(session: SeedSession, base: string, image: string, subject: string): Promise<void> {
  const index = await session.document(`${base}/referrers/${subject}`, MEDIA_TYPES.ociIndex).catch(() => undefined);
  if (!index) return;
  // Where the listing came from: the upstream's referrers API, its OCI 1.1 fallback tag, or pushed referrers.
  session.keep(dockerPaths.upstreamReferrers(image, subject));
  session.keep(dockerPaths.tag(image, `sha256-${hexOf(subject)}`));
  session.keep(dockerPaths.referrersPrefix(image, subject));
  const { manifests } = JSON.parse(index.body.toString('utf8')) as { manifests?: Descriptor[] };
  for (const referrer of manifests ?? []) await seedManifest(session, base, image, referrer.digest, [], referrer.digest);
}

/** An index child is seeded when no platform is named, or it is for one that is (attestations go along with any). */
function wanted(descriptor: Descriptor, platforms: Platform[]): boolean {
  const platform = descriptor.platform;
  if (platforms.length === 0 || !platform || platform.os === 'unknown') return true;
  return platforms.some((p) => p.os === platform.os && p.architecture === platform.architecture && (p.variant === undefined || p.variant === platform.variant));
}
