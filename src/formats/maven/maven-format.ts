import { createHash } from 'node:crypto';
import { badRequest, methodNotAllowed, notFound } from '../../errors.js';
import { declaredChecksums, readAll, requestBody } from '../../http/request-body.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendJson, sendText } from '../../http/respond.js';
import { sendArtifact } from '../../http/send-artifact.js';
import { LocalRepo } from '../../repos/local-repo.js';
import { RemoteRepo } from '../../repos/remote-repo.js';
import { deployTarget } from '../../repos/deploy-target.js';
import { joinPlainSegments } from '../../repos/repo-path.js';
import type { Artifact, Repository } from '../../repos/repository.js';
import { fromMembers, VirtualRepo } from '../../repos/virtual-repo.js';
import { fileAccessNeed, type FormatModule, type FormatServices } from '../format-module.js';
import { artifactBytes, presentFiles } from '../member-sources.js';
import { leafMembers } from '../package-routing.js';
import {
  buildOrder,
  isMetadataPath,
  isSnapshotVersion,
  parseArtifactPath,
  parseNonUniqueSnapshot,
  parseTimestamped,
  splitChecksum,
  type MavenChecksum,
} from './layout.js';
import { MAX_GROUP_METADATA_BYTES, mergeMetadata, metadataOf } from './repository-metadata.js';
import { keepVersions, parsePlugins, renderGroupMetadata } from './metadata.js';
import { mavenRules } from './maven-rules.js';
import { mavenRetention } from './retention.js';
import { mavenPromotion } from './promotion.js';

const MAX_CHECKSUM_BYTES = 1024;

/** `maven-metadata.xml` as `repo` serves it: generated (local), cached from upstream (remote), merged (virtual). */
async function metadataBytes(repo: Repository, path: string, services: FormatServices): Promise<Buffer | undefined> {
  if (repo instanceof LocalRepo) return metadataOf(repo, path);
  if (repo instanceof RemoteRepo) {
    const artifact = await repo.get(path);
    if (!artifact) return undefined;
    const bytes = await artifactBytes(artifact, 16 * 1024 * 1024);
    // Without its upstream: the versions with files here, so a range resolves to one that can be downloaded.
    const present = await presentFiles(repo, artifact.cacheStatus, path.slice(0, path.lastIndexOf('/') + 1));
    if (!present) return bytes;
    const versions = new Set([...present].map((file) => file.split('/')[0]!));
    return Buffer.from(keepVersions(bytes.toString('utf8'), (version) => versions.has(version)));
  }
  const documents = await fromMembers(leafMembers(repo), (member) => metadataBytes(member, path, services));
  return mergeMetadata(path, documents.map((d) => d.value), services.workers);
}

/**
 * An artifact as `repo` serves it. A local repository answers a SNAPSHOT's non-unique name with its newest
 * timestamped build; a remote one checks a release artifact against the upstream's `.sha1` before caching.
 */
async function resolveArtifact(repo: Repository, path: string): Promise<Artifact | undefined> {
  if (repo instanceof VirtualRepo) {
    return (await fromMembers(leafMembers(repo), (member) => resolveArtifact(member, path), true))[0]?.value;
  }
  if (repo instanceof RemoteRepo) {
    const coordinates = parseArtifactPath(path);
    if (!coordinates || isSnapshotVersion(coordinates.version) || (await repo.record(path))) return repo.get(path);
    return repo.get(path, { expect: await upstreamSha1(repo, path) });
  }
  return (await repo.get(path)) ?? newestSnapshotBuild(repo, path);
}

/** The sha1 the upstream publishes beside a file, when it does (Maven Central always does). */
async function upstreamSha1(repo: RemoteRepo, path: string): Promise<{ sha1?: string }> {
  if (repo.config.offline) return {};
  try {
    const response = await repo.upstream.request(repo.upstream.urlFor(`${repo.upstream.encodePath(path)}.sha1`));
    const text = response.status === 200 ? (await readAll(response.body, MAX_CHECKSUM_BYTES)).toString('utf8') : (response.body.resume(), '');
    const sha1 = /^\s*([0-9a-fA-F]{40})\b/.exec(text)?.[1];
    return sha1 ? { sha1: sha1.toLowerCase() } : {};
  } catch {
    return {};
  }
}

async function newestSnapshotBuild(repo: Repository, path: string): Promise<Artifact | undefined> {
  const coordinates = parseArtifactPath(path);
  const wanted = coordinates && parseNonUniqueSnapshot(coordinates.artifactId, coordinates.version, coordinates.filename);
  if (!coordinates || !wanted) return undefined;
  const dir = path.slice(0, path.lastIndexOf('/') + 1);
  let newest: { path: string; order: string } | undefined;
  for (const record of await repo.list({ prefix: dir })) {
    const build = parseTimestamped(coordinates.artifactId, coordinates.version, record.path.slice(dir.length));
    if (!build || build.extension !== wanted.extension || build.classifier !== wanted.classifier) continue;
    const order = buildOrder(build);
    if (!newest || order > newest.order) newest = { path: record.path, order };
  }
  return newest && repo.get(newest.path);
}

/** The stored checksum of an artifact (reading a miss to its end first, so that it is stored). */
async function checksumOf(artifact: Artifact, algorithm: MavenChecksum, services: FormatServices): Promise<string | undefined> {
  if (artifact.checksums) return artifact.checksums[algorithm];
  for await (const _chunk of await artifact.open()) {
    // drained: the fetch completes and is committed
  }
  return (await services.repos.get(artifact.repo)?.record(artifact.path))?.blob[algorithm];
}

async function get(ctx: RequestContext, repo: Repository, path: string, services: FormatServices): Promise<void> {
  const { base, algorithm } = splitChecksum(path);
  if (isMetadataPath(base)) {
    const bytes = await metadataBytes(repo, base, services);
    if (!bytes) throw notFound(`${repo.key}/${base}`);
    if (algorithm) return sendText(ctx, 200, createHash(algorithm).update(bytes).digest('hex'));
    return sendText(ctx, 200, bytes, 'application/xml');
  }
  const artifact = await resolveArtifact(repo, base);
  if (!artifact) throw notFound(`${repo.key}/${base}`);
  if (algorithm) {
    const checksum = await checksumOf(artifact, algorithm, services);
    if (!checksum) throw notFound(`${repo.key}/${path}`);
    return sendText(ctx, 200, checksum);
  }
  await sendArtifact(ctx, artifact, { onDownload: () => services.downloads.record(artifact) });
}

/**
 * The local repository a deploy of `path` lands in: the repository's own deploy target, or, through a
 * virtual repository whose deploy target takes only releases (or only SNAPSHOTs), the first local member
 * that takes this version, so one URL serves `mvn deploy` of both.
 */
async function deployTargetOf(ctx: RequestContext, repo: Repository, path: string, services: FormatServices): Promise<LocalRepo> {
  const target = deployTarget(repo, 'deploy');
  const coordinates = parseArtifactPath(path);
  if (!coordinates || !(repo instanceof VirtualRepo) || takesVersion(target, coordinates.version)) return target;
  const other = leafMembers(repo).find((m): m is LocalRepo => m instanceof LocalRepo && takesVersion(m, coordinates.version));
  if (!other) return target;
  await services.access.require(ctx, 'write', other, path);
  return other;
}

const takesVersion = (repo: LocalRepo, version: string) => {
  const policy = repo.config.versionPolicy ?? 'mixed';
  return policy === 'mixed' || isSnapshotVersion(version) === (policy === 'snapshot');
};

/**
 * A deploy, as maven-deploy-plugin and Gradle send it: artifacts are stored (a release version once);
 * their checksum files are checked against what was stored, not stored. `maven-metadata.xml` (and its
 * checksums) is accepted and dropped, since Shelf generates metadata from what the repository holds,
 * except a group's plugin list (for `mvn <prefix>:<goal>`), which is merged into the one stored.
 */
async function put(ctx: RequestContext, repo: Repository, path: string, services: FormatServices): Promise<void> {
  const { base, algorithm } = splitChecksum(path);
  const target = await deployTargetOf(ctx, repo, base, services);
  const maxBytes = services.config.server.maxUploadBytes;
  if (isMetadataPath(base)) {
    const body = await readAll(requestBody(ctx, MAX_GROUP_METADATA_BYTES), MAX_GROUP_METADATA_BYTES);
    const plugins = algorithm ? undefined : parsePlugins(body.toString('utf8'));
    if (plugins) {
      const stored = await target.get(base);
      const existing = stored ? (parsePlugins((await artifactBytes(stored, MAX_GROUP_METADATA_BYTES)).toString('utf8')) ?? []) : [];
      const merged = renderGroupMetadata([plugins, existing]);
      await target.put(base, [Buffer.from(merged)], { contentType: 'application/xml' });
      return sendJson(ctx, 201, { repo: target.key, path, plugins: plugins.map((p) => p.prefix) });
    }
    return sendJson(ctx, 201, { repo: target.key, path, generated: true });
  }
  if (algorithm) {
    const declared = /^\s*([0-9a-fA-F]+)\b/.exec((await readAll(requestBody(ctx, MAX_CHECKSUM_BYTES), MAX_CHECKSUM_BYTES)).toString('utf8'))?.[1];
    const record = await target.record(base);
    if (!record) throw badRequest(`deploy ${base} before its checksum`);
    if (declared?.toLowerCase() !== record.blob[algorithm]) {
      throw badRequest(`${algorithm} of ${base} is ${record.blob[algorithm]}, the deployed checksum file says ${declared ?? '(nothing)'}`);
    }
    return sendJson(ctx, 201, { repo: target.key, path, verified: true });
  }
  const coordinates = parseArtifactPath(base);
  if (coordinates && !takesVersion(target, coordinates.version)) {
    const policy = target.config.versionPolicy!;
    const via = target === repo ? '' : ` (the deploy repository of ${repo.key}, which has no member that takes it)`;
    throw badRequest(`repository ${target.key}${via} takes ${policy} versions only, not ${coordinates.version}`);
  }
  const record = await target.put(base, requestBody(ctx, maxBytes), {
    contentType: ctx.req.headers['content-type'] ?? mavenRules(target.config).defaultContentType(base),
    expect: declaredChecksums(ctx),
    maxBytes,
  });
  if (coordinates && target.config.maxUniqueSnapshots) await pruneSnapshots(target, base, target.config.maxUniqueSnapshots);
  const { sha256, sha1, md5, size } = record.blob;
  sendJson(ctx, 201, { repo: record.repo, path: record.path, size, checksums: { sha256, sha1, md5 } });
}

/** Keeps the newest `keep` timestamped builds of the SNAPSHOT version `path` belongs to. */
async function pruneSnapshots(target: LocalRepo, path: string, keep: number): Promise<void> {
  const coordinates = parseArtifactPath(path)!;
  const dir = path.slice(0, path.lastIndexOf('/') + 1);
  const builds = new Map<string, string[]>();
  for (const record of await target.list({ prefix: dir })) {
    const build = parseTimestamped(coordinates.artifactId, coordinates.version, record.path.slice(dir.length));
    if (!build) continue;
    const key = buildOrder(build);
    builds.set(key, [...(builds.get(key) ?? []), record.path]);
  }
  const old = [...builds.keys()].sort().slice(0, Math.max(0, builds.size - keep));
  for (const key of old) for (const stale of builds.get(key)!) await target.prune(stale);
}

/**
 * Maven repositories (Maven 2 layout): `<mirror><url>http://shelf:8080/<repoKey>/</url>` in settings.xml,
 * and `mvn deploy` to a local repository (or a virtual one with a deploy repository).
 */
export const mavenFormat: FormatModule = {
  name: 'maven',
  rules: mavenRules,
  accessNeed: (method, segments) => fileAccessNeed(method, joinPlainSegments(segments)),
  subjectOf: (path) => path,
  async handle(ctx, repo, segments, services) {
    const path = joinPlainSegments(segments);
    switch (ctx.method) {
      case 'GET':
      case 'HEAD':
        return get(ctx, repo, path, services);
      case 'PUT':
        return put(ctx, repo, path, services);
      case 'DELETE':
        await repo.delete(path);
        ctx.res.writeHead(204).end();
        return;
      default:
        throw methodNotAllowed(ctx.method, ['GET', 'HEAD', 'PUT', 'DELETE']);
    }
  },
  retention: mavenRetention,
  promotion: mavenPromotion,
};
