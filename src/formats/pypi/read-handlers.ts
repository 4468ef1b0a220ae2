import { notFound, ShelfError } from '../../errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendJson } from '../../http/respond.js';
import { sendArtifact } from '../../http/send-artifact.js';
import type { Artifact, Repository } from '../../repos/repository.js';
import type { FormatServices } from '../format-module.js';
import type { AccessControl } from '../../security/access-control.js';
import { BASE_URL_PLACEHOLDER, type StoredView } from '../document-views.js';
import { leafMembers, packageFile } from '../package-routing.js';
import { RemoteRepo } from '../../repos/remote-repo.js';
import { parseCoreMetadata, readWheelMetadata } from './wheel-metadata.js';
import { Readable } from 'node:stream';
import { pypiPaths } from './names.js';
import type { FileRef, ProjectView } from './project-view.js';
import type { ProjectViews } from './project-views.js';
import { negotiateSimple, SIMPLE_HTML, SIMPLE_JSON } from './simple-api.js';

/** The content type of the negotiated form: the PEP 691 names when the client used them, else text/html. */
function simpleType(ctx: RequestContext, form: 'html' | 'json'): string {
  if (form === 'json') return SIMPLE_JSON;
  return ctx.req.headers.accept?.includes(SIMPLE_HTML) ? SIMPLE_HTML : 'text/html; charset=utf-8';
}

function negotiated(ctx: RequestContext): 'html' | 'json' {
  const form = negotiateSimple(ctx.req.headers.accept);
  if (!form) throw new ShelfError('NOT_ACCEPTABLE', 406, `the simple API serves ${SIMPLE_JSON}, ${SIMPLE_HTML} or text/html`);
  return form;
}

async function requireProject(views: ProjectViews, repo: Repository, project: string, ctx?: RequestContext): Promise<StoredView<ProjectView>> {
  const view = await views.view(repo, project, ctx);
  if (!view) throw RemoteRepo.notFound(repo, `project ${project}`);
  return view;
}

/** The project list, of only the projects the caller may read when permission targets narrow that. */
export async function getProjectList(ctx: RequestContext, repo: Repository, views: ProjectViews, access: AccessControl): Promise<void> {
  const form = negotiated(ctx);
  const mayRead = (await access.readsEverything(ctx, repo)) ? undefined : await access.readFilter(ctx);
  await views.sendList(ctx, await views.projectList(repo), form, simpleType(ctx, form), mayRead && ((project) => mayRead(repo, project)));
}

export async function getProjectPage(ctx: RequestContext, repo: Repository, project: string, views: ProjectViews): Promise<void> {
  const form = negotiated(ctx);
  await views.sendPage(ctx, await requireProject(views, repo, project, ctx), form, simpleType(ctx, form));
}

/**
 * A distribution file, or its PEP 658 `.metadata`. Cached or hosted bytes are served as they are; otherwise
 * the project page says which member owns the file, where its upstream keeps it and what it hashes to.
 */
export async function getFile(
  ctx: RequestContext,
  repo: Repository,
  project: string,
  filename: string,
  metadata: boolean,
  { views, downloads }: { views: ProjectViews; downloads: FormatServices['downloads'] },
): Promise<void> {
  const path = metadata ? pypiPaths.metadata(project, filename) : pypiPaths.file(project, filename);
  const found = packageFile(repo, project, path, pypiPaths.hostedPrefix(project), async () => {
    const ref = (await requireProject(views, repo, project)).refs[filename];
    return ref && (!metadata || ref.coreMetadata !== undefined) ? { repo: ref.repo, options: () => fileOptions(ref, metadata) } : undefined;
  });
  const artifact = metadata && filename.endsWith('.whl') ? await found.catch(async (err: unknown) => (await metadataFromCachedWheel(repo, project, filename)) ?? Promise.reject(err)) : await found;
  if (!artifact) throw notFound(`${metadata ? 'metadata of ' : ''}${filename} of ${project}`);
  await sendArtifact(ctx, artifact, { onDownload: () => downloads.record(artifact) });
}

/**
 * The version's dependencies (`Requires-Dist`), from the core metadata of one of its wheels that a member
 * holds (hosted wheels have it from their upload); null when none does, as PyPI says when it does not know.
 */
async function requiresDist(repo: Repository, project: string, files: ProjectView['files']): Promise<string[] | null> {
  for (const file of files.filter((f) => f.filename.endsWith('.whl') && f.coreMetadata !== undefined)) {
    const path = pypiPaths.metadata(project, file.filename);
    for (const member of leafMembers(repo, project)) {
      if (!(await member.record(path))) continue;
      const metadata = await member.get(path);
      if (!metadata) continue;
      const bytes = metadata.read ? await metadata.read() : Buffer.concat((await (await metadata.open()).toArray()) as Buffer[]);
      return parseCoreMetadata(bytes.toString('utf8'))['requires-dist'] ?? [];
    }
  }
  return null;
}

/**
 * A wheel's core metadata when the upstream cannot be asked for it, taken from the wheel itself where a
 * member has it cached (pip in --require-hashes mode downloads wheels without their `.metadata`): PEP 658's
 * file is the wheel's own `.dist-info/METADATA`.
 */
async function metadataFromCachedWheel(repo: Repository, project: string, filename: string): Promise<Artifact | undefined> {
  const wheelPath = pypiPaths.file(project, filename);
  for (const member of leafMembers(repo, project)) {
    if (!(await member.record(wheelPath))) continue;
    const wheel = await member.get(wheelPath);
    if (!wheel) continue;
    const bytes = await readWheelMetadata(wheel);
    return {
      repo: member.key,
      path: pypiPaths.metadata(project, filename),
      contentType: 'text/plain; charset=utf-8',
      size: bytes.length,
      ...(wheel.cacheStatus && { cacheStatus: wheel.cacheStatus }),
      open: async (range) => Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]),
      read: async (range) => (range ? bytes.subarray(range.start, range.end + 1) : bytes),
    };
  }
  return undefined;
}

/** What the bytes must hash to, and where the upstream keeps them (PyPI's files live on another host). */
function fileOptions(ref: FileRef, metadata: boolean) {
  const hashes = metadata ? (ref.coreMetadata === true ? {} : (ref.coreMetadata ?? {})) : ref.hashes;
  const expect = {
    ...(/^[0-9a-f]{64}$/.test(hashes.sha256 ?? '') && { sha256: hashes.sha256 }),
    ...(/^[0-9a-f]{32}$/.test(hashes.md5 ?? '') && { md5: hashes.md5 }),
  };
  return { expect, ...(ref.upstreamUrl && { upstream: { path: metadata ? `${ref.upstreamUrl}.metadata` : ref.upstreamUrl } }) };
}

/**
 * The JSON API (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`) that poetry and other tools read,
 * built from the same project page: `info` (the newest hosted upload's fields), `releases`, `urls`.
 */
export async function getJsonApi(ctx: RequestContext, repo: Repository, project: string, version: string | undefined, views: ProjectViews) {
  const view = await requireProject(views, repo, project);
  const latest = version ?? view.versions[view.versions.length - 1];
  if (version !== undefined && !view.versions.includes(version)) throw notFound(`version ${version} of ${project}`);
  const link = (url: string) => url.replace(BASE_URL_PLACEHOLDER, ctx.baseUrl);
  const describe = (file: ProjectView['files'][number]) => ({
    filename: file.filename,
    url: link(file.url),
    digests: file.hashes,
    packagetype: file.packagetype,
    requires_python: file.requiresPython ?? null,
    size: file.size ?? null,
    upload_time_iso_8601: file.uploadTime ?? null,
    yanked: file.yanked !== undefined,
    yanked_reason: typeof file.yanked === 'string' ? file.yanked : null,
  });
  const releases: Record<string, ReturnType<typeof describe>[]> = Object.fromEntries(view.versions.map((v) => [v, []]));
  for (const file of view.files) if (file.version) releases[file.version]?.push(describe(file));
  const urls = view.files.filter((f) => f.version === latest).map(describe);
  sendJson(ctx, 200, {
    info: {
      ...view.info,
      name: view.info.name ?? project,
      version: latest,
      requires_dist: await requiresDist(repo, project, view.files.filter((f) => f.version === latest)),
      requires_python: urls.find((u) => u.requires_python)?.requires_python ?? null,
      project_url: `${ctx.baseUrl}/${repo.key}/simple/${project}/`,
    },
    last_serial: 0,
    ...(version === undefined && { releases }),
    urls,
    vulnerabilities: [],
  });
}
