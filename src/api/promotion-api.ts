import { badRequest, notFound } from '../errors.js';
import { formatModule } from '../formats/index.js';
import { readJsonBody } from '../http/request-body.js';
import { allowMethods, type RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import { describeSelection, Promotion, type PromotionRequest } from '../repos/promotion.js';
import { joinPlainSegments } from '../repos/repo-path.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { Repository } from '../repos/repository.js';
import type { AccessControl } from '../security/access-control.js';

/**
 * Copy, move and promotion, shaped like Artifactory's: `POST /api/copy/<repo>/<path>?to=/<repo>/<path>&dry=1`
 * and `POST /api/move/…` for paths (files, folders, a Maven version, an npm tarball with its version), and
 * `POST /api/promote/<repo>` with `{targetRepo, package, version, move, dryRun, distTags}` for a package
 * version of any format. Read on the source, write on the target and, for a move, delete on the source are
 * checked for every file before anything changes.
 */
export class PromotionApi {
  private readonly promotion: Promotion;

  constructor(
    private readonly repos: RepositoryRegistry,
    private readonly access: AccessControl,
  ) {
    this.promotion = new Promotion((key) => repos.get(key));
  }

  async handle(ctx: RequestContext, operation: 'copy' | 'move' | 'promote', [repoKey, ...pathSegments]: string[]): Promise<void> {
    allowMethods(ctx, ['POST']);
    const source = this.repository(repoKey);
    const request = operation === 'promote' ? await this.promoteRequest(ctx, source) : this.pathRequest(ctx, operation, source, pathSegments);
    const plan = await this.promotion.plan(request);
    let principal;
    for (const { from, to } of plan.items) {
      principal = await this.access.require(ctx, 'read', source, formatModule(source.format).subjectOf(from.path));
      if (request.move) principal = await this.access.require(ctx, 'delete', source, formatModule(source.format).subjectOf(from.path));
      principal = await this.access.require(ctx, 'write', plan.target, formatModule(plan.target.format).subjectOf(to));
    }
    const result = await this.promotion.apply(request, plan);
    if (!request.dryRun) {
      this.access.audit.record({
        event: operation === 'promote' ? 'promote' : operation,
        ...this.access.actor(ctx, principal!),
        repo: source.key,
        path: describeSelection(request.selection),
        targetRepo: result.target,
        files: result.items.length,
        move: request.move,
        result: 'ok',
      });
    }
    const verb = request.move ? 'moving' : 'copying';
    sendJson(ctx, 200, {
      ...result,
      messages: result.items.map((item) => ({ level: 'INFO', message: `${request.dryRun ? 'would be ' : ''}${verb} ${item.from} to ${item.to}` })),
    });
  }

  private repository(key: string | undefined): Repository {
    const repo = key === undefined ? undefined : this.repos.get(key);
    if (!repo) throw notFound(`repository ${key ?? ''}`);
    return repo;
  }

  private pathRequest(ctx: RequestContext, operation: 'copy' | 'move', source: Repository, segments: string[]): PromotionRequest {
    const to = ctx.url.searchParams.get('to');
    if (!to) throw badRequest(`${operation} needs ?to=/<targetRepo>/<path>`);
    const [targetKey, ...targetSegments] = to.split('/').filter(Boolean);
    const path = joinPlainSegments(segments);
    const targetPath = targetSegments.length > 0 ? joinPlainSegments(targetSegments) : undefined;
    const dry = ctx.url.searchParams.get('dry');
    return {
      source,
      target: this.repository(targetKey),
      selection: { path },
      ...(targetPath !== undefined && { targetPath }),
      move: operation === 'move',
      dryRun: dry === '1' || dry === 'true',
    };
  }

  private async promoteRequest(ctx: RequestContext, source: Repository): Promise<PromotionRequest> {
    const body = await readJsonBody(ctx);
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const text = (key: string) => {
      if (typeof b[key] !== 'string' || b[key] === '') throw badRequest(`"${key}" must be a non-empty string`);
      return b[key];
    };
    const flag = (key: string) => {
      if (b[key] !== undefined && typeof b[key] !== 'boolean') throw badRequest(`"${key}" must be a boolean`);
      return b[key] === true;
    };
    const distTags = b.distTags ?? [];
    if (!Array.isArray(distTags) || !distTags.every((tag) => typeof tag === 'string')) throw badRequest('"distTags" must be a list of tags');
    return {
      source,
      target: this.repository(text('targetRepo')),
      selection: { package: text('package'), version: text('version') },
      move: flag('move'),
      dryRun: flag('dryRun'),
      distTags: distTags as string[],
    };
  }
}
