import { notFound, ShelfError } from '../../errors.js';
import { allowMethods } from '../../http/request-context.js';
import { readJsonBody } from '../../http/request-body.js';
import { sendJson } from '../../http/respond.js';
import { RemoteRepo } from '../../repos/remote-repo.js';
import type { FormatModule, SegmentHandler } from '../format-module.js';
import { dockerRules } from './docker-rules.js';
import { parsePromotionRequest, promote } from './promotion.js';
import { handleRegistry } from './registry.js';
import { parseDockerPath } from './names.js';
import { dockerGarbage } from './garbage.js';

/** `/api/docker/<repoKey>/v2/promote` (Artifactory's promotion) and `/api/docker/<repoKey>/ratelimit`. */
const dockerApi: SegmentHandler = async (ctx, segments, services) => {
  const [repoKey, ...rest] = segments;
  const repo = repoKey === undefined ? undefined : services.repos.get(repoKey);
  if (!repo || repo.format !== 'docker') throw notFound(`Docker repository ${repoKey ?? ''}`);
  const endpoint = rest.join('/');
  if (endpoint === 'v2/promote') {
    allowMethods(ctx, ['POST']);
    const request = parsePromotionRequest(await readJsonBody(ctx));
    const target = services.repos.get(request.targetRepo);
    if (!target || target.format !== 'docker') throw notFound(`Docker repository ${request.targetRepo}`);
    await services.access.require(ctx, 'read', repo, request.dockerRepository);
    // A move removes the source tag, so it needs delete there too.
    if (!request.copy) await services.access.require(ctx, 'delete', repo, request.dockerRepository);
    const principal = await services.access.require(ctx, 'write', target, request.dockerRepository);
    const promoted = await promote(repo, target, request);
    services.access.audit.record({
      event: 'promote',
      user: principal.username,
      address: ctx.clientAddress,
      repo: repo.key,
      path: request.dockerRepository,
      targetRepo: target.key,
      tags: promoted,
      copy: request.copy === true,
      result: 'ok',
    });
    return sendJson(ctx, 200, { promoted, copy: request.copy === true });
  }
  if (endpoint === 'ratelimit') {
    await services.access.require(ctx, 'manage', repo);
    if (!(repo instanceof RemoteRepo)) throw new ShelfError('BAD_REQUEST', 400, `${repo.key} is not a remote repository`);
    const upstream = repo.upstream;
    const outage = await repo.outage();
    return sendJson(ctx, 200, {
      repo: repo.key,
      upstream: upstream.baseUrl.origin,
      ...upstream.budget.snapshot(),
      ...(outage && { assumedOfflineUntil: outage.until, outageReason: outage.reason }),
    });
  }
  throw notFound(`API endpoint /api/docker/${segments.join('/')}`);
};

/** Docker/OCI images. Clients speak the registry API at `/v2/`, never at `/<repoKey>/`. */
export const dockerFormat: FormatModule = {
  name: 'docker',
  rules: dockerRules,
  // Nothing is served here; the registry API at /v2/ checks each request once it knows the image.
  accessNeed: () => null,
  subjectOf: (path) => parseDockerPath(path)?.image,
  downloadPath(repoKey, path) {
    const parsed = parseDockerPath(path);
    if (parsed?.kind === 'blob') return `/v2/${repoKey}/${parsed.image}/blobs/${parsed.reference}`;
    if (parsed?.kind === 'manifest' || parsed?.kind === 'tag') return `/v2/${repoKey}/${parsed.image}/manifests/${parsed.reference}`;
    return undefined;
  },
  async handle(_ctx, repo) {
    throw notFound(`Docker repository ${repo.key} is served at /v2/${repo.key}/<image>, not at /${repo.key}/`);
  },
  rootRoutes: { v2: handleRegistry },
  api: dockerApi,
  garbage: dockerGarbage,
};
