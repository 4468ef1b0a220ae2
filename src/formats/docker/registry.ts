import { methodNotAllowed, ShelfError } from '../../errors.js';
import { sendJson } from '../../http/respond.js';
import type { RequestContext } from '../../http/request-context.js';
import type { FormatServices } from '../format-module.js';
import { appendChunk, cancelUpload, deleteBlob, finishUpload, getBlob, startUpload, uploadStatus } from './blob-handlers.js';
import type { ImageTarget, RegistryRequest } from './image-target.js';
import { listCatalog, listTags } from './listing-handlers.js';
import { deleteManifest, getManifest, listReferrers, putManifest } from './manifest-handlers.js';
import { checkImageName } from './names.js';
import { parseRegistryRoute, type RegistryRoute } from './registry-routes.js';

/** The engine's error codes as the distribution spec names them. */
const REGISTRY_CODES: Record<string, string> = {
  DIGEST_MISMATCH: 'DIGEST_INVALID',
  SIZE_MISMATCH: 'SIZE_INVALID',
  TOO_LARGE: 'SIZE_INVALID',
  FORBIDDEN: 'DENIED',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  NO_DEPLOY_REPO: 'UNSUPPORTED',
  NOT_FOUND: 'NAME_UNKNOWN',
  BAD_REQUEST: 'NAME_INVALID',
};

function asRegistryError(err: unknown): unknown {
  if (!(err instanceof ShelfError)) return err;
  const code = REGISTRY_CODES[err.code];
  return code ? new ShelfError(code, err.status, err.message, err.headers) : err;
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
  try {
    const route = parseRegistryRoute(segments);
    if (!route) throw new ShelfError('NOT_FOUND', 404, `/v2/${segments.join('/')} is not a registry endpoint`);
    await dispatch(ctx, route, services);
  } catch (err) {
    throw asRegistryError(err);
  }
}

async function dispatch(ctx: RequestContext, route: RegistryRoute, services: FormatServices): Promise<void> {
  const method = ctx.method;
  if (route.op === 'base') {
    allow(method, ['GET', 'HEAD']);
    return sendJson(ctx, 200, {});
  }
  if (route.op === 'catalog') {
    allow(method, ['GET']);
    return listCatalog(ctx, services);
  }
  const target = resolveImage(route.name, services);
  ctx.access.repo = target.repo.key;
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
      return startUpload(request, (from) => resolveImage(from.split('/'), services));
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
