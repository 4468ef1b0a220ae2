import { createHash } from 'node:crypto';
import semver from 'semver';
import { badRequest, conflict, notFound, ShelfError } from '../../errors.js';
import { readAll } from '../../http/request-body.js';
import type { LocalRepo } from '../../repos/local-repo.js';
import { DigestMismatchError, SizeMismatchError } from '../../storage/blob-store.js';
import { expectationFromDist, integrityOf } from './integrity.js';
import { checkNewPackageName, checkPathToken, npmPaths, tarballFileName, versionOfTarball } from './names.js';
import { highestVersion } from './packument.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Package-level fields of a publish body kept with the version, so a hosted packument can show them. */
const CARRIED_FIELDS = ['description', 'readme', 'readmeFilename', 'maintainers'];

/** Limits on what one publish may add, so one package cannot grow without bound or nest without end. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_MANIFEST_DEPTH = 64;
const MAX_TAGS_PER_PUBLISH = 100;
/** Dist-tags a package may have in all (the public registry's largest packages have a few dozen). */
const MAX_DIST_TAGS = 1000;

/** How deeply `value` nests, counting no further than `limit + 1`. */
function depthOf(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit <= 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child, limit - 1));
  return deepest + 1;
}

const publishedOver = (version: string) =>
  new ShelfError('FORBIDDEN', 403, `You cannot publish over the previously published versions: ${version}.`);

/**
 * `npm publish`: one version with its tarball attached (base64). The tarball must match the manifest's
 * `dist.integrity` and `shasum`; a version is published once and never replaced.
 */
export async function publishVersion(
  target: LocalRepo,
  name: string,
  body: Json,
  baseUrl: string,
  publisher?: { name: string; email?: string },
): Promise<void> {
  checkNewPackageName(name);
  if (body.name !== undefined && body.name !== name) throw badRequest(`body names package ${String(body.name)}, URL names ${name}`);
  const versions = isObject(body.versions) ? Object.entries(body.versions) : [];
  if (versions.length !== 1) throw badRequest('a publish carries exactly one version');
  const [version, manifest] = versions[0]!;
  if (!isObject(manifest) || semver.valid(version) === null || manifest.version !== version || manifest.name !== name) {
    throw badRequest(`version ${version} is not a valid semver version of ${name} with a matching manifest`);
  }
  checkPathToken('version', version);
  const dist = isObject(manifest.dist) ? manifest.dist : {};
  const expect = expectationFromDist(dist);
  if (!expect.sha512 && !expect.sha1) throw badRequest('the manifest has neither dist.integrity nor dist.shasum');
  const tarball = attachedTarball(body);
  const tags = Object.entries(isObject(body['dist-tags']) ? body['dist-tags'] : { latest: version }).filter(([, tagged]) => tagged === version);
  if (tags.length > MAX_TAGS_PER_PUBLISH) throw badRequest(`a publish may set at most ${MAX_TAGS_PER_PUBLISH} dist-tags`);
  for (const [tag] of tags) checkDistTag(checkPathToken('dist-tag', tag));

  // Everything is checked and the manifest serialized before the first byte is stored, so a refused publish
  // leaves nothing that would block the corrected one.
  const file = tarballFileName(name, version);
  const stored: Json = {
    ...Object.fromEntries(CARRIED_FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]])),
    ...manifest,
    _id: `${name}@${version}`,
    ...(publisher && { _npmUser: publisher, maintainers: manifest.maintainers ?? [publisher] }),
    dist: {
      ...dist,
      integrity: typeof dist.integrity === 'string' ? dist.integrity : integrityOf(createHash('sha512').update(tarball).digest('hex')),
      shasum: createHash('sha1').update(tarball).digest('hex'),
      tarball: `${baseUrl}/${target.key}/${name}/-/${file}`,
    },
  };
  if (depthOf(stored, MAX_MANIFEST_DEPTH) > MAX_MANIFEST_DEPTH) throw badRequest(`the manifest nests deeper than ${MAX_MANIFEST_DEPTH} levels`);
  const manifestBytes = Buffer.from(JSON.stringify(stored));
  if (manifestBytes.length > MAX_MANIFEST_BYTES) throw badRequest(`the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);

  if (await target.record(npmPaths.version(name, version))) throw publishedOver(version);
  const tarballPath = npmPaths.tarball(name, file);
  try {
    await target.put(tarballPath, [tarball], { contentType: 'application/octet-stream', expect: { ...expect, size: tarball.length } });
  } catch (err) {
    if (err instanceof DigestMismatchError || err instanceof SizeMismatchError) {
      throw badRequest(`the attached tarball does not match the manifest's dist.integrity/shasum: ${err.message}`);
    }
    if (err instanceof ShelfError && err.status === 409) throw publishedOver(version);
    throw err;
  }
  try {
    await target.put(npmPaths.version(name, version), [manifestBytes], { contentType: 'application/json' });
  } catch (err) {
    if (err instanceof ShelfError && err.status === 409) throw publishedOver(version);
    // The version was not recorded: its tarball must not stay to block the next attempt.
    await target.prune(tarballPath).catch(() => undefined);
    throw err;
  }
  for (const [tag] of tags) await setDistTag(target, name, tag, version);
}

function checkDistTag(tag: string): string {
  // npm refuses tags that read as a version range, since `npm install name@<tag>` could not tell them apart.
  if (semver.validRange(tag) !== null) throw badRequest(`dist-tag ${tag} looks like a version range`);
  return tag;
}

/** The one `.tgz` attachment, decoded; its declared length must match. */
function attachedTarball(body: Json): Buffer {
  const attachments = isObject(body._attachments) ? Object.entries(body._attachments) : [];
  const tarballs = attachments.filter(([file]) => file.endsWith('.tgz'));
  if (tarballs.length !== 1) throw badRequest('a publish carries exactly one .tgz attachment');
  const attachment = tarballs[0]![1];
  if (!isObject(attachment) || typeof attachment.data !== 'string') throw badRequest('the attachment has no data');
  const data = Buffer.from(attachment.data, 'base64');
  if (attachment.length !== undefined && attachment.length !== data.length) {
    throw badRequest(`the attachment is ${data.length} bytes, but declares ${String(attachment.length)}`);
  }
  if (data.length === 0) throw badRequest('the attached tarball is empty');
  return data;
}

/** The versions a local repository hosts for a package. */
async function hostedVersions(target: LocalRepo, name: string): Promise<string[]> {
  const prefix = `${npmPaths.hostedPrefix(name)}versions/`;
  return (await target.list({ prefix })).map((r) => r.path.slice(prefix.length, -'.json'.length));
}

/**
 * A packument PUT without attachments: `npm deprecate` (each version's `deprecated`), and with `removals`
 * (npm unpublish's `/-rev/` PUT) versions missing from the body are unpublished and dist-tags follow the body.
 */
export async function updatePackage(target: LocalRepo, name: string, body: Json, removals: boolean): Promise<void> {
  if (!isObject(body.versions)) throw badRequest('the packument has no versions');
  const hosted = await hostedVersions(target, name);
  if (hosted.length === 0) throw notFound(`package ${name} in ${target.key}`);
  const unknown = Object.keys(body.versions).filter((v) => !hosted.includes(v));
  if (unknown.length > 0) throw badRequest(`versions ${unknown.join(', ')} are not published; publish them with their tarball`);
  for (const version of hosted) {
    const manifest = body.versions[version];
    if (isObject(manifest)) await setDeprecation(target, name, version, manifest.deprecated);
    else if (removals) await unpublishVersion(target, name, version);
  }
  if (removals && isObject(body['dist-tags'])) {
    const remaining = await hostedVersions(target, name);
    const wanted = Object.entries(body['dist-tags']).filter(
      (e): e is [string, string] => typeof e[1] === 'string' && remaining.includes(e[1]),
    );
    const tagPrefix = `${npmPaths.hostedPrefix(name)}dist-tags/`;
    for (const record of await target.list({ prefix: tagPrefix })) {
      const tag = record.path.slice(tagPrefix.length);
      if (!wanted.some(([t]) => t === tag)) await target.prune(record.path);
    }
    for (const [tag, version] of wanted) await setDistTag(target, name, checkPathToken('dist-tag', tag), version);
  }
}

async function setDeprecation(target: LocalRepo, name: string, version: string, message: unknown): Promise<void> {
  const path = npmPaths.deprecation(name, version);
  if (typeof message === 'string' && message !== '') {
    await target.put(path, [Buffer.from(message)], { contentType: 'text/plain' });
  } else if (await target.record(path)) {
    await target.prune(path);
  }
}

/**
 * Removes one version: its manifest (deletion protection applies, unless retention removes it), tarball,
 * deprecation and the tags naming it (`latest` moves to the highest version left).
 */
export async function unpublishVersion(target: LocalRepo, name: string, version: string, byRetention = false): Promise<void> {
  const manifest = npmPaths.version(name, version);
  await (byRetention ? target.prune(manifest) : target.delete(manifest));
  for (const path of [npmPaths.tarball(name, tarballFileName(name, version)), npmPaths.deprecation(name, version)]) {
    if (await target.record(path)) await target.prune(path);
  }
  const tagPrefix = `${npmPaths.hostedPrefix(name)}dist-tags/`;
  const remaining = await hostedVersions(target, name);
  for (const record of await target.list({ prefix: tagPrefix })) {
    const tagged = await target.get(record.path);
    if (!tagged || (await readAll(await tagged.open(), 1024)).toString('utf8') !== version) continue;
    const tag = record.path.slice(tagPrefix.length);
    const replacement = tag === 'latest' ? highestVersion(remaining) : undefined;
    if (replacement) await setDistTag(target, name, tag, replacement);
    else await target.prune(record.path);
  }
}

/** `npm unpublish <name>`: every version, tarball and tag (deletion protection applies). */
export async function unpublishPackage(target: LocalRepo, name: string): Promise<void> {
  const records = [
    ...(await target.list({ prefix: npmPaths.hostedPrefix(name) })),
    ...(await target.list({ prefix: npmPaths.tarballPrefix(name) })),
  ];
  if (records.length === 0) throw notFound(`package ${name} in ${target.key}`);
  for (const record of records) await target.delete(record.path);
}

export async function setDistTag(target: LocalRepo, name: string, tag: string, version: string): Promise<void> {
  checkDistTag(tag);
  if (!(await target.record(npmPaths.version(name, version)))) throw notFound(`version ${version} of ${name} in ${target.key}`);
  const path = npmPaths.distTag(name, tag);
  const tagPrefix = `${npmPaths.hostedPrefix(name)}dist-tags/`;
  if (!(await target.record(path)) && (await target.list({ prefix: tagPrefix, limit: MAX_DIST_TAGS })).length >= MAX_DIST_TAGS) {
    throw badRequest(`${name} has ${MAX_DIST_TAGS} dist-tags already; remove some first`);
  }
  await target.put(path, [Buffer.from(version)], { contentType: 'text/plain' });
}

export async function removeDistTag(target: LocalRepo, name: string, tag: string): Promise<void> {
  if (tag === 'latest') throw badRequest('the latest dist-tag cannot be removed');
  const path = npmPaths.distTag(name, tag);
  if (!(await target.record(path))) throw notFound(`dist-tag ${tag} of ${name}`);
  await target.prune(path);
}

/** A tarball DELETE (the last step of npm's version unpublish): only once its version is gone. */
export async function deleteTarball(target: LocalRepo, name: string, file: string): Promise<void> {
  const version = versionOfTarball(name, file);
  if (version && (await target.record(npmPaths.version(name, version)))) {
    throw conflict(`${file} belongs to the published version ${version}; unpublish the version instead`);
  }
  await target.delete(npmPaths.tarball(name, file));
}
