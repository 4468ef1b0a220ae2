import { badRequest, notFound } from '../../errors.js';
import { readJsonBody } from '../../http/request-body.js';
import { allowMethods, type RequestContext } from '../../http/request-context.js';
import { sendJson } from '../../http/respond.js';
import type { Repository } from '../../repos/repository.js';
import { perProcess, type AccessNeed, type FormatModule, type FormatServices } from '../format-module.js';
import { proxyAudit } from './audit.js';
import { packageOfPath } from './names.js';
import { parseNpmRoute, type NpmRoute } from './npm-routes.js';
import { npmRules } from './npm-rules.js';
import { PackumentViews } from './packument-views.js';
import { deleteTarball, publishVersion, removeDistTag, setDistTag, unpublishPackage, updatePackage } from './publish.js';
import { deployTarget } from '../../repos/deploy-target.js';
import { getDistTags, getPackument, getTarball, getVersion, requireView } from './read-handlers.js';
import { searchPackages } from './search.js';
import { login, logout, whoami } from './session.js';
import { npmRetention } from './retention.js';
import { npmPromotion } from './promotion.js';

/**
 * A publish body carries the tarball base64-encoded (a third more than the tarball) inside JSON, which is
 * parsed whole: beyond 500 MiB it could not be held as one string, whatever `maxUploadBytes` allows.
 */
const MAX_PUBLISH_BODY = 500 * 1024 * 1024;
const publishLimit = (services: FormatServices) =>
  Math.min(Math.ceil(services.config.server.maxUploadBytes * 1.4) + 1024 * 1024, MAX_PUBLISH_BODY);

/** One cache of built packuments per serving process. */
const viewsFor = perProcess((services) => new PackumentViews(services.workers));

const isRead = (method: string) => method === 'GET' || method === 'HEAD';

async function dispatch(ctx: RequestContext, repo: Repository, route: NpmRoute, services: FormatServices): Promise<void> {
  const views = viewsFor(services);
  switch (route.kind) {
    case 'ping':
      allowMethods(ctx, ['GET', 'HEAD']);
      return sendJson(ctx, 200, {});
    case 'search':
      allowMethods(ctx, ['GET', 'HEAD']);
      return searchPackages(ctx, repo, views, await services.access.readFilter(ctx));
    case 'audit':
      return proxyAudit(ctx, repo, route.endpoint);
    case 'whoami':
      allowMethods(ctx, ['GET', 'HEAD']);
      return whoami(ctx, services.access);
    case 'login':
      allowMethods(ctx, ['PUT']);
      return login(ctx, route.username, services.access);
    case 'logout':
      ctx.access.path = ctx.rawPath.replace(/[^/]+$/, '[redacted]');
      allowMethods(ctx, ['DELETE']);
      return logout(ctx, route.token, services.access);
    case 'dist-tags':
      if (isRead(ctx.method)) {
        if (route.tag === undefined) return getDistTags(ctx, repo, route.name, views);
        const version = (await requireView(views, repo, route.name)).distTags[route.tag];
        if (version === undefined) throw notFound(`dist-tag ${route.tag} of ${route.name}`);
        return sendJson(ctx, 200, version);
      }
      allowMethods(ctx, ['GET', 'HEAD', 'PUT', 'DELETE']);
      if (route.tag === undefined) throw badRequest('name the dist-tag: /-/package/<name>/dist-tags/<tag>');
      if (ctx.method === 'DELETE') await removeDistTag(deployTarget(repo, 'publish'), route.name, route.tag);
      else {
        const version = await readJsonBody(ctx);
        if (typeof version !== 'string') throw badRequest('the body of a dist-tag PUT is the version as a JSON string');
        await setDistTag(deployTarget(repo, 'publish'), route.name, route.tag, version);
      }
      return sendJson(ctx, 201, { ok: true });
    case 'package':
      if (isRead(ctx.method)) return getPackument(ctx, repo, route.name, views);
      allowMethods(ctx, ['GET', 'HEAD', 'PUT', 'DELETE']);
      if (ctx.method === 'DELETE') {
        await unpublishPackage(deployTarget(repo, 'publish'), route.name);
        return sendJson(ctx, 200, { ok: true });
      }
      return putPackage(ctx, repo, route, services);
    case 'version':
      allowMethods(ctx, ['GET', 'HEAD']);
      return getVersion(ctx, repo, route.name, route.spec, views);
    case 'tarball':
      if (ctx.method === 'DELETE') {
        await deleteTarball(deployTarget(repo, 'publish'), route.name, route.file);
        return sendJson(ctx, 200, { ok: true });
      }
      allowMethods(ctx, ['GET', 'HEAD', 'DELETE']);
      return getTarball(ctx, repo, route.name, route.file, { views, downloads: services.downloads });
  }
}

/** A packument PUT: a publish when it carries a tarball, otherwise a metadata update (deprecate, unpublish). */
async function putPackage(ctx: RequestContext, repo: Repository, route: Extract<NpmRoute, { kind: 'package' }>, services: FormatServices) {
  const target = deployTarget(repo, 'publish');
  const body = await readJsonBody(ctx, publishLimit(services));
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body is not a packument');
  const document = body as Record<string, unknown>;
  const attachments = document._attachments;
  if (typeof attachments === 'object' && attachments !== null && Object.keys(attachments).length > 0) {
    const { username } = await services.access.principal(ctx);
    await publishVersion(target, route.name, document, ctx.baseUrl, username === null ? undefined : { name: username });
    return sendJson(ctx, 201, { ok: true, id: route.name });
  }
  await updatePackage(target, route.name, document, route.rev !== undefined);
  sendJson(ctx, 200, { ok: true, id: route.name });
}

/** The permission an npm request needs; the subject is the package name with its scope. */
function npmAccessNeed(method: string, route: NpmRoute): AccessNeed | null {
  const read = method === 'GET' || method === 'HEAD';
  switch (route.kind) {
    case 'ping':
    case 'whoami':
    case 'login':
    case 'logout':
      return null;
    case 'search':
    case 'audit':
      return { action: 'read' };
    case 'dist-tags':
      return { action: read ? 'read' : 'annotate', subject: route.name };
    case 'package':
      // A PUT without a revision publishes or deprecates; npm unpublishes with PUT .../-rev/<rev>, then DELETEs.
      if (read) return { action: 'read', subject: route.name };
      return { action: method === 'PUT' && route.rev === undefined ? 'write' : 'delete', subject: route.name };
    case 'version':
      return { action: 'read', subject: route.name };
    case 'tarball':
      return { action: method === 'DELETE' ? 'delete' : 'read', subject: route.name };
  }
}

/**
 * npm packages: `registry=http://shelf:8080/<repoKey>/` in .npmrc. Errors are `{ "error": "..." }`, which
 * npm prints after the status line.
 */
export const npmFormat: FormatModule = {
  name: 'npm',
  rules: npmRules,
  accessNeed: (method, segments) => npmAccessNeed(method, parseNpmRoute(segments)),
  subjectOf: packageOfPath,
  handle: (ctx, repo, segments, services) => dispatch(ctx, repo, parseNpmRoute(segments), services),
  sendError: (ctx, err) => sendJson(ctx, err.status, { error: err.message, code: err.code }, err.headers),
  retention: npmRetention,
  promotion: npmPromotion,
};
