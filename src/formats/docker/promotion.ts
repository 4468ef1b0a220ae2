import { badRequest, notFound, ShelfError } from '../../errors.js';
import { readAll } from '../../http/request-body.js';
import type { Repository } from '../../repos/repository.js';
import type { ArtifactRecord } from '../../storage/metadata-index.js';
import { hasImmutableTags } from './docker-rules.js';
import { deployTarget } from '../../repos/deploy-target.js';
import { imageTags } from './listing-handlers.js';
import { MAX_MANIFEST_BYTES, parseManifest } from './manifest.js';
import { checkImageName, dockerPaths, isTag } from './names.js';

/** Artifactory's promote body: `POST /api/docker/<repoKey>/v2/promote`. */
export interface PromotionRequest {
  targetRepo: string;
  dockerRepository: string;
  tag?: string;
  targetTag?: string;
  /** true: copy; false (default): move, i.e. the source tag is removed. */
  copy?: boolean;
}

export function parsePromotionRequest(body: unknown): PromotionRequest {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (key: string, required: boolean) => {
    const value = b[key];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string' || value === '') throw badRequest(`"${key}" must be a non-empty string`);
    return value;
  };
  const request: PromotionRequest = { targetRepo: text('targetRepo', true)!, dockerRepository: text('dockerRepository', true)! };
  const tag = text('tag', false);
  const targetTag = text('targetTag', false);
  for (const t of [tag, targetTag]) if (t !== undefined && !isTag(t)) throw badRequest(`invalid tag "${t}"`);
  if (targetTag !== undefined && tag === undefined) throw badRequest('"targetTag" needs "tag"');
  if (b.copy !== undefined && typeof b.copy !== 'boolean') throw badRequest('"copy" must be a boolean');
  checkImageName(request.dockerRepository.split('/'));
  return { ...request, ...(tag && { tag }), ...(targetTag && { targetTag }), ...(b.copy === true && { copy: true }) };
}

/**
 * Promotes tags of one image from `source` to a local repository by linking what they refer to: manifests
 * (an index's children too), configs and layers. No bytes are copied. The target's immutability applies, and
 * it is checked for every tag before anything is linked.
 */
export async function promote(source: Repository, targetRepo: Repository, request: PromotionRequest): Promise<string[]> {
  const target = deployTarget(targetRepo, 'push');
  const image = request.dockerRepository;
  const tags = request.tag ? [request.tag] : await imageTags(source, image);
  if (tags.length === 0) throw notFound(`image ${source.key}/${image}`);
  const plan: { from: ArtifactRecord; tag: string; toTag: string }[] = [];
  for (const tag of tags) {
    const from = await source.record(dockerPaths.tag(image, tag));
    if (!from) throw notFound(`tag ${source.key}/${image}:${tag}`);
    const toTag = request.targetTag ?? tag;
    const existing = await target.record(dockerPaths.tag(image, toTag));
    if (existing && existing.blob.sha256 !== from.blob.sha256 && hasImmutableTags(target.config)) {
      throw new ShelfError('DENIED', 403, `tag ${target.key}/${image}:${toTag} is immutable and points to another manifest`);
    }
    plan.push({ from, tag, toTag });
  }
  // Everything the tags refer to, and whether the target's quota has room for what it lacks, before any link.
  const closure = new Map<string, ArtifactRecord>();
  for (const { from } of plan) await collectClosure(source, image, `sha256:${from.blob.sha256}`, closure);
  let added = 0;
  for (const record of closure.values()) added += (await target.record(record.path))?.blob.sha256 === record.blob.sha256 ? 0 : record.blob.size;
  await target.checkRoom(added);
  for (const record of closure.values()) await target.link(record.path, record.blob, record.contentType);
  for (const { from, tag, toTag } of plan) {
    await target.link(dockerPaths.tag(image, toTag), from.blob, from.contentType);
    if (!request.copy && !(source.key === target.key && toTag === tag)) await source.delete(from.path);
  }
  return plan.map(({ toTag }) => `${target.key}/${image}:${toTag}`);
}

/**
 * A manifest and everything it refers to, in the order they are linked: children and blobs before the
 * manifest naming them, so the target never holds a dangling manifest.
 */
async function collectClosure(source: Repository, image: string, digest: string, closure: Map<string, ArtifactRecord>): Promise<void> {
  const record = await source.record(dockerPaths.manifest(image, digest));
  if (!record) throw new ShelfError('MANIFEST_UNKNOWN', 409, `manifest ${digest} of ${source.key}/${image} is not stored`);
  if (closure.has(record.path)) return;
  const artifact = await source.get(record.path);
  const manifest = parseManifest(await readAll(await artifact!.open(), MAX_MANIFEST_BYTES), record.contentType);
  for (const child of manifest.manifests) await collectClosure(source, image, child.digest, closure);
  for (const blobDigest of new Set(manifest.blobs)) {
    const blob = await source.record(dockerPaths.blob(image, blobDigest));
    if (!blob) throw new ShelfError('BLOB_UNKNOWN', 409, `blob ${blobDigest} of ${source.key}/${image} is not stored`);
    closure.set(blob.path, blob);
  }
  closure.set(record.path, record);
}
