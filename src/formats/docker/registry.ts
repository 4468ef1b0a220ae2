import { asClientError, methodNotAllowed, ShelfError } from '../../errors.js';
import { sendJson } from '../../http/respond.js';
import type { RequestContext } from '../../http/request-context.js';
import type { FormatServices } from '../format-module.js';
import { appendChunk, cancelUpload, deleteBlob, finishUpload, getBlob, startUpload, uploadStatus } from './blob-handlers.js';
import type { ImageTarget, RegistryRequest } from './image-target.js';
import { listCatalog, listTags } from './listing-handlers.js';
import { deleteManifest, getManifest, listReferrers, putManifest } from './manifest-handlers.js';
import { checkImageName } from './names.js';
import { parseRegistryRoute, type RegistryRoute } from './registry-routes.js';
import { bearerChallenge, challengeScope, issueRegistryToken } from './token-service.js';
import { unauthorized } from '../../security/access-control.js';
import type { Action } from '../../security/permissions.js';

/** The engine's error codes as the distribution spec names them. */
const REGISTRY_CODES: Record<string, string> = {
  DIGEST_MISMATCH: 'DIGEST_INVALID',
  SIZE_MISMATCH: 'SIZE_INVALID',
  TOO_LARGE: 'SIZE_INVALID',
  FORBIDDEN: 'DENIED',
  QUOTA_EXCEEDED: 'DENIED',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  NO_DEPLOY_REPO: 'UNSUPPORTED',
  NOT_FOUND: 'NAME_UNKNOWN',
  BAD_REQUEST: 'NAME_INVALID',
  TOO_MANY_REQUESTS: 'TOOMANYREQUESTS',
};

/**
 * The engine's error as the registry API states it: the spec's code, and for a 401 the token service's
 * challenge (credentials that failed before the image was known were answered with Basic's).
 */
function asRegistryError(ctx: RequestContext, err: unknown): unknown {
  if (!(err instanceof ShelfError)) return err;
  const code = REGISTRY_CODES[err.code] ?? err.code;
  const basicChallenge = err.status === 401 && !err.headers['www-authenticate']?.startsWith('Bearer');
  const headers = basicChallenge ? { ...err.headers, 'www-authenticate': bearerChallenge(ctx) } : err.headers;
  return code !== err.code || basicChallenge ? new ShelfError(code, err.status, err.message, headers) : err;
}

/** Which repository and image a /v2/ name means: `<repoKey>/<image>`, else the default Docker repository. */
export function resolveImage(nameComponents: string[], services: FormatServices): ImageTarget {
  const name = checkImageName(nameComponents);
  const [first, ...rest] = nameComponents;
  const keyed = services.repos.get(first!);
  if (keyed && keyed.format === 'docker' && rest.length > 0) return { repo: keyed, image: rest.join('/'), name };
  const fallback = services.config.docker.defaultRepository;
  const repo = fallback === undefined ? undefined : services.repos.get(fallback);
  if (!repo) {
    throw new ShelfError('NAME_UNKNOWN', 404, `no Docker repository "${first}" (and no docker.defaultRepository is configured)`);
  }
  return { repo, image: name, name };
}

/** The Docker Registry HTTP API V2 / OCI distribution API at /v2/. */
export async function handleRegistry(ctx: RequestContext, segments: string[], services: FormatServices): Promise<void> {
  ctx.res.setHeader('docker-distribution-api-version', 'registry/2.0');
  ctx.access.format = 'docker';
  ctx.registryApi = true;
  try {
    const route = parseRegistryRoute(segments);
    if (!route) throw new ShelfError('NOT_FOUND', 404, `/v2/${segments.join('/')} is not a registry endpoint`);
    await dispatch(ctx, route, services);
  } catch (err) {
    throw asRegistryError(ctx, asClientError(err));
  }
}

/** The permission a registry request needs on its image: pulls read, pushes write, deletes delete. */
function registryAction(route: RegistryRoute, method: string): Action {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'DELETE' && (route.op === 'manifest' || route.op === 'blob')) return 'delete';
  return 'write';
}

async function dispatch(ctx: RequestContext, route: RegistryRoute, services: FormatServices): Promise<void> {
  const method = ctx.method;
  const resolveName = (name: string) => resolveImage(name.split('/'), services);
  if (route.op === 'token') {
    allow(method, ['GET']);
    return issueRegistryToken(ctx, services, resolveName);
  }
  if (route.op === 'base' || route.op === 'catalog') {
    allow(method, route.op === 'base' ? ['GET', 'HEAD'] : ['GET']);
    // Clients learn where to log in from this answer, so it asks for credentials even when anonymous may pull.
    if (!ctx.req.headers.authorization) {
      throw unauthorized('authentication required', bearerChallenge(ctx, route.op === 'catalog' ? 'registry:catalog:*' : undefined));
    }
    const principal = await services.access.principal(ctx);
    if (route.op === 'base') return sendJson(ctx, 200, {});
    if (principal.registryToken && !principal.registryToken.catalog) {
      const challenge = bearerChallenge(ctx, 'registry:catalog:*');
      throw unauthorized('the token does not grant the catalog', `${challenge},error="insufficient_scope"`);
    }
    return listCatalog(ctx, services, principal);
  }
  const target = resolveImage(route.name, services);
  ctx.access.repo = target.repo.key;
  const action = registryAction(route, method);
  await services.access.require(ctx, action, target.repo, target.image, bearerChallenge(ctx, challengeScope(target.name, action)));
  const request: RegistryRequest = { ctx, target, services };
  switch (route.op) {
    case 'tags':
      allow(method, ['GET']);
      return listTags(request);
    case 'manifest':
      if (method === 'GET' || method === 'HEAD') return getManifest(request, route.reference);
      if (method === 'PUT') return putManifest(request, route.reference);
      if (method === 'DELETE') return deleteManifest(request, route.reference);
      throw methodNotAllowed(method, ['GET', 'HEAD', 'PUT', 'DELETE']);
    case 'blob':
      if (method === 'GET' || method === 'HEAD') return getBlob(request, route.digest);
      if (method === 'DELETE') return deleteBlob(request, route.digest);
      throw methodNotAllowed(method, ['GET', 'HEAD', 'DELETE']);
    case 'uploadStart':
      allow(method, ['POST']);
      // A cross-repository mount needs read on the source; without it the client uploads the bytes instead.
      return startUpload(request, async (from) => {
        const source = resolveName(from);
        return (await services.access.readFilter(ctx))(source.repo, source.image) ? source : undefined;
      });
    case 'upload':
      if (method === 'PATCH') return appendChunk(request, route.id);
      if (method === 'PUT') return finishUpload(request, route.id);
      if (method === 'GET') return uploadStatus(request, route.id);
      if (method === 'DELETE') return cancelUpload(request, route.id);
      throw methodNotAllowed(method, ['GET', 'PATCH', 'PUT', 'DELETE']);
    case 'referrers':
      allow(method, ['GET']);
      return listReferrers(request, route.digest);
  }
}

function allow(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) throw methodNotAllowed(method, allowed);
}
