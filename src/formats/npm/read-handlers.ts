import { notFound } from '../../errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendJson, sendText } from '../../http/respond.js';
import { sendArtifact } from '../../http/send-artifact.js';
import { RemoteRepo } from '../../repos/remote-repo.js';
import type { GetOptions, Repository } from '../../repos/repository.js';
import type { FormatServices } from '../format-module.js';
import { packageFile } from '../package-routing.js';
import { expectationFromDist } from './integrity.js';
import { npmPaths } from './names.js';
import type { TarballRef } from './packument.js';
import { versionManifest, type PackumentViews, type ServedPackument } from './packument-views.js';

const CORGI_TYPE = 'application/vnd.npm.install-v1+json';
const JSON_TYPE = 'application/json';

export async function requireView(views: PackumentViews, repo: Repository, name: string, ctx?: RequestContext): Promise<ServedPackument> {
  const view = await views.view(repo, name, ctx);
  if (!view) throw RemoteRepo.notFound(repo, `package ${name}`);
  return view;
}

/** npm and pnpm ask for the abbreviated document with this Accept; everything else gets the full one. */
const wantsCorgi = (accept: string | undefined) => accept !== undefined && accept.includes(CORGI_TYPE);

export async function getPackument(ctx: RequestContext, repo: Repository, name: string, views: PackumentViews) {
  const view = await requireView(views, repo, name, ctx);
  const corgi = wantsCorgi(ctx.req.headers.accept);
  // DocumentViews.send answers a matching If-None-Match with 304.
  const etag = corgi ? `"c${view.etag.slice(1)}` : view.etag;
  await views.send(ctx, view, corgi ? 'corgi' : 'full', corgi ? CORGI_TYPE : JSON_TYPE, { etag });
}

/** `GET /<name>/<version|dist-tag>`: one version's full manifest. */
export async function getVersion(ctx: RequestContext, repo: Repository, name: string, spec: string, views: PackumentViews) {
  const view = await requireView(views, repo, name, ctx);
  const version = view.distTags[spec] ?? spec;
  const manifest = await versionManifest(view, version, ctx.baseUrl);
  if (manifest === undefined) throw notFound(`version ${spec} of ${name}`);
  sendText(ctx, 200, manifest, JSON_TYPE);
}

export async function getDistTags(ctx: RequestContext, repo: Repository, name: string, views: PackumentViews) {
  sendJson(ctx, 200, (await requireView(views, repo, name, ctx)).distTags);
}

/**
 * A tarball. Cached or hosted bytes are served as they are. Otherwise the packument says which member owns
 * the version, where its upstream keeps it and what it must hash to; the bytes are checked before caching.
 */
export async function getTarball(
  ctx: RequestContext,
  repo: Repository,
  name: string,
  file: string,
  { views, downloads }: { views: PackumentViews; downloads: FormatServices['downloads'] },
) {
  const artifact = await packageFile(repo, name, npmPaths.tarball(name, file), npmPaths.hostedPrefix(name), async () => {
    const ref = (await requireView(views, repo, name)).tarballs[file];
    return ref && { repo: ref.repo, options: (owner: Repository) => tarballOptions(owner, ref) };
  });
  if (!artifact) throw notFound(`tarball ${file} of ${name}`);
  const served = { ...artifact, contentType: 'application/octet-stream' };
  await sendArtifact(ctx, served, { onDownload: () => downloads.record(artifact) });
}

/** Verification against the packument, and the upstream's own link when it is on the owner's upstream host. */
function tarballOptions(owner: Repository, ref: TarballRef): GetOptions {
  const expect = expectationFromDist(ref);
  const link = ref.upstreamUrl && URL.canParse(ref.upstreamUrl) ? new URL(ref.upstreamUrl) : undefined;
  const sameHost = link && owner instanceof RemoteRepo && link.origin === owner.upstream.baseUrl.origin;
  return { expect, ...(sameHost && { upstream: { path: link.href } }) };
}
