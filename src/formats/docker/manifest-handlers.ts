import { createHash } from 'node:crypto';
import { ShelfError } from '../../errors.js';
import { firstValue } from '../../header-values.js';
import { readAll, requestBody } from '../../http/request-body.js';
import { sendText } from '../../http/respond.js';
import { etagOf } from '../../http/send-artifact.js';
import { LocalRepo } from '../../repos/local-repo.js';
import type { Artifact, Repository } from '../../repos/repository.js';
import { VirtualRepo } from '../../repos/virtual-repo.js';
import { deployTarget } from '../../repos/deploy-target.js';
import { registryUrl, rethrowNotFound, type ImageTarget, type RegistryRequest } from './image-target.js';
import {
  acceptedTypes,
  bareMediaType,
  defaultPlatformManifest,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  parseManifest,
  type Descriptor,
} from './manifest.js';
import { leafMembers } from '../package-routing.js';
import { checkDigest, checkReference, dockerPaths, hexOf, isDigest, isTag } from './names.js';

const manifestUnknown = (what: string) => new ShelfError('MANIFEST_UNKNOWN', 404, `manifest ${what} is not in this repository`);

/** A manifest as stored: its exact bytes (digests are over bytes, so they are never re-serialized). */
export interface StoredManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  artifact: Artifact;
}

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Finds a manifest by tag or digest, in member order for a virtual repository (or by push time, if configured). */
export async function findManifest(target: ImageTarget, reference: string): Promise<StoredManifest | undefined> {
  const byDigest = checkReference(reference);
  const path = byDigest ? dockerPaths.manifest(target.image, reference) : dockerPaths.tag(target.image, reference);
  const artifact =
    !byDigest && target.repo instanceof VirtualRepo && target.repo.config.resolveDockerTagsByTimestamp
      ? await newestTag(target.repo, path)
      : await target.repo.get(path, byDigest ? { expect: { sha256: hexOf(reference) } } : {});
  if (!artifact) return undefined;
  const bytes = await readAll(await artifact.open(), MAX_MANIFEST_BYTES);
  const digest = digestOf(bytes);
  return { bytes, digest, mediaType: bareMediaType(artifact.contentType) ?? MEDIA_TYPES.ociManifest, artifact };
}

/** The most recently pushed (or fetched) of the members' tags of that name. */
async function newestTag(repo: VirtualRepo, path: string): Promise<Artifact | undefined> {
  const found = await Promise.all(repo.members.map((member) => member.get(path).catch(() => undefined)));
  return found
    .filter((a): a is Artifact => a !== undefined)
    .reduce<Artifact | undefined>((best, a) => (!best || (a.lastModified ?? 0) > (best.lastModified ?? 0) ? a : best), undefined);
}

export async function getManifest(request: RegistryRequest, reference: string): Promise<void> {
  const { ctx, target, services } = request;
  // No manifest can have a reference that is neither a tag nor a digest: unknown, as the OCI conformance suite expects.
  if (!isDigest(reference) && !isTag(reference)) throw manifestUnknown(`${target.name}:${reference}`);
  let manifest = await findManifest(target, reference);
  if (!manifest) throw manifestUnknown(`${target.name}:${reference}`);
  await rememberDigestOfFetchedTag(request, reference, manifest);
  const accepted = acceptedTypes(ctx.req.headers.accept);
  if (accepted && !accepted.has(manifest.mediaType)) {
    // Distribution's answer to a client that cannot read manifest lists: the linux/amd64 image instead.
    const fallback = manifest.mediaType === MEDIA_TYPES.dockerManifestList && !isDigest(reference) && defaultPlatformManifest(manifest.bytes);
    manifest = fallback ? await findManifest(target, fallback) : undefined;
    if (!manifest || !accepted.has(manifest.mediaType)) {
      throw manifestUnknown(`${target.name}:${reference} in a media type the client accepts (${[...accepted].join(', ')})`);
    }
  }
  ctx.access.cache = manifest.artifact.cacheStatus;
  if (ctx.method === 'GET') services.downloads.record(manifest.artifact);
  sendText(ctx, 200, manifest.bytes, manifest.mediaType, {
    'docker-content-digest': manifest.digest,
    etag: etagOf(hexOf(manifest.digest)),
    ...(manifest.artifact.cacheStatus && { 'x-shelf-cache': manifest.artifact.cacheStatus }),
  });
}

/**
 * A tag fetched from upstream is also recorded under its digest in the remote's cache, so a later pull by
 * digest (as clients do after resolving a tag) is served from cache, even with the upstream down.
 */
async function rememberDigestOfFetchedTag(request: RegistryRequest, reference: string, manifest: StoredManifest) {
  const status = manifest.artifact.cacheStatus;
  if (isDigest(reference) || (status !== 'MISS' && status !== 'REVALIDATED')) return;
  const answering = request.services.repos.get(manifest.artifact.repo);
  const record = await answering?.record(manifest.artifact.path);
  if (answering?.type === 'remote' && record) {
    await answering.link(dockerPaths.manifest(request.target.image, manifest.digest), record.blob, record.contentType);
  }
}

/**
 * PUT a manifest: validated, refused when a blob or child manifest it names is not in the repository,
 * stored under its digest (and its tag), and linked to its subject for the referrers API.
 */
export async function putManifest(request: RegistryRequest, reference: string): Promise<void> {
  const { ctx, target } = request;
  const repo = deployTarget(target.repo, 'push');
  const byDigest = checkReference(reference);
  const bytes = await readAll(requestBody(ctx, MAX_MANIFEST_BYTES), MAX_MANIFEST_BYTES);
  const manifest = parseManifest(bytes, firstValue(ctx.req.headers['content-type']));
  const digest = digestOf(bytes);
  if (byDigest && reference !== digest) {
    throw new ShelfError('DIGEST_INVALID', 400, `manifest digest is ${digest}, not ${reference}`);
  }
  await requireReferences(repo, target.image, manifest.blobs, manifest.manifests);

  const stored = await repo.put(dockerPaths.manifest(target.image, digest), [bytes], {
    contentType: manifest.mediaType,
    expect: { sha256: hexOf(digest) },
  });
  if (!byDigest) {
    await repo.link(dockerPaths.tag(target.image, reference), stored.blob, manifest.mediaType).catch((err: unknown) => {
      throw err instanceof ShelfError && err.code === 'CONFLICT'
        ? new ShelfError('DENIED', 403, `tag ${target.name}:${reference} is immutable in ${repo.key} and already points to another manifest`)
        : err;
    });
    if (repo instanceof LocalRepo) await pruneTags(repo, target.image);
  }
  if (manifest.subject) {
    await repo.link(dockerPaths.referrer(target.image, manifest.subject.digest, digest), stored.blob, manifest.mediaType);
  }
  ctx.res
    .writeHead(201, {
      location: registryUrl(ctx, target, `manifests/${digest}`),
      'docker-content-digest': digest,
      'content-length': 0,
      ...(manifest.subject && { 'oci-subject': manifest.subject.digest }),
    })
    .end();
}

async function requireReferences(repo: LocalRepo, image: string, blobs: string[], manifests: Descriptor[]) {
  const missing: string[] = [];
  const paths = [...[...new Set(blobs)].map((digest) => dockerPaths.blob(image, digest)), ...manifests.map((child) => dockerPaths.manifest(image, child.digest))];
  for (const path of paths) {
    // Renewed, so that a garbage collection deciding right now what this image no longer needs keeps it.
    if (await repo.record(path)) await repo.renew(path);
    else missing.push(path.slice(path.lastIndexOf('/') + 1));
  }
  if (missing.length > 0) {
    throw new ShelfError('MANIFEST_BLOB_UNKNOWN', 400, `manifest refers to content not pushed to ${repo.key}/${image}: ${missing.join(', ')}`);
  }
}

/** maxUniqueTags: beyond the limit, the image's least recently pushed tags go. */
async function pruneTags(repo: LocalRepo, image: string): Promise<void> {
  const max = repo.config.maxUniqueTags ?? 0;
  if (max === 0) return;
  const tags = await repo.list({ prefix: dockerPaths.tagsPrefix(image) });
  const oldestFirst = tags.sort((a, b) => a.modifiedAt - b.modifiedAt);
  for (const old of oldestFirst.slice(0, Math.max(0, tags.length - max))) await repo.prune(old.path);
}

/** DELETE by tag removes the tag; by digest removes the manifest, every tag on it, and its referrer link. */
export async function deleteManifest({ ctx, target }: RegistryRequest, reference: string): Promise<void> {
  const repo = target.repo;
  if (checkReference(reference)) {
    const manifest = await findManifest(target, reference);
    if (!manifest) throw manifestUnknown(`${target.name}@${reference}`);
    const tags = await repo.list({ prefix: dockerPaths.tagsPrefix(target.image) });
    for (const tag of tags.filter((t) => t.blob.sha256 === hexOf(reference))) await repo.delete(tag.path);
    const subject = parseManifest(manifest.bytes, manifest.mediaType).subject;
    if (subject) await repo.delete(dockerPaths.referrer(target.image, subject.digest, reference)).catch(() => undefined);
    await repo.delete(dockerPaths.manifest(target.image, reference));
  } else {
    await repo.delete(dockerPaths.tag(target.image, reference)).catch(rethrowNotFound(() => manifestUnknown(`${target.name}:${reference}`)));
  }
  ctx.res.writeHead(202, { 'content-length': 0 }).end();
}

/**
 * OCI 1.1 referrers: an index of the manifests whose `subject` is `digest`, optionally by artifactType,
 * from every member: what was pushed (recorded at push), and what a remote's upstream lists (signatures,
 * SBOMs), so they are visible through the cache.
 */
export async function listReferrers({ ctx, target }: RegistryRequest, rawDigest: string): Promise<void> {
  const subject = checkDigest(rawDigest);
  const filter = ctx.url.searchParams.get('artifactType');
  const descriptors = new Map<string, Descriptor>();
  for (const member of leafMembers(target.repo)) {
    const found = member.type === 'remote' ? await upstreamReferrers(member, target.image, subject) : await pushedReferrers({ ...target, repo: member }, subject);
    for (const descriptor of found) if (!descriptors.has(descriptor.digest)) descriptors.set(descriptor.digest, descriptor);
  }
  const manifests = [...descriptors.values()].filter((d) => filter === null || d.artifactType === filter);
  const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });
  sendText(ctx, 200, body, MEDIA_TYPES.ociIndex, filter !== null ? { 'oci-filters-applied': 'artifactType' } : {});
}

async function pushedReferrers(target: ImageTarget, subject: string): Promise<Descriptor[]> {
  const descriptors: Descriptor[] = [];
  for (const record of await target.repo.list({ prefix: dockerPaths.referrersPrefix(target.image, subject) })) {
    const digest = `sha256:${record.blob.sha256}`;
    const found = await findManifest(target, digest);
    if (!found) continue;
    const parsed = parseManifest(found.bytes, found.mediaType);
    descriptors.push({
      mediaType: found.mediaType,
      digest,
      size: found.bytes.length,
      ...(parsed.artifactType && { artifactType: parsed.artifactType }),
      ...(parsed.annotations && { annotations: parsed.annotations }),
    });
  }
  return descriptors;
}

/**
 * What a remote's upstream says refers to `subject`: its referrers API (cached like a tag), or where it has
 * none, the index tagged `sha256-<hex>` (the OCI 1.1 tag-schema fallback). A failing upstream lists nothing.
 */
async function upstreamReferrers(repo: Repository, image: string, subject: string): Promise<Descriptor[]> {
  const descriptorsOf = (bytes: Buffer): Descriptor[] => {
    const doc = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
    return Array.isArray(doc.manifests) ? (doc.manifests as Descriptor[]).filter((d) => typeof d?.digest === 'string' && isDigest(d.digest)) : [];
  };
  try {
    // Unreachable (offline) with the API's answer never cached: the fallback tag may still be held here.
    const index = await repo.get(dockerPaths.upstreamReferrers(image, subject)).catch(() => undefined);
    if (index) return descriptorsOf(await readAll(await index.open(), MAX_MANIFEST_BYTES));
    const tagged = await repo.get(dockerPaths.tag(image, `sha256-${hexOf(subject)}`));
    return tagged ? descriptorsOf(await readAll(await tagged.open(), MAX_MANIFEST_BYTES)) : [];
  } catch {
    return [];
  }
}
