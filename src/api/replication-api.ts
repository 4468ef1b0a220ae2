import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { storagePaths } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { badRequest, notFound, ShelfError } from '../errors.js';
import { allowMethods, type RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import type { ReplicationOutcome } from '../replication/replication.js';
import { unauthorized, type AccessControl } from '../security/access-control.js';
import type { MetadataIndex } from '../storage/metadata-index.js';

const PATHS_PAGE = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Replication over HTTP: `GET /api/export` hands another Shelf a signed bundle of what changed (pull
 * replication's source side), `GET /api/replication` shows each configured replication's state, and
 * `POST /api/replication/<name>/run` runs one now.
 */
export class ReplicationApi {
  constructor(
    private readonly config: ShelfConfig,
    private readonly index: MetadataIndex,
    private readonly access: AccessControl,
    private readonly run: (name: string) => Promise<ReplicationOutcome>,
    private readonly exportJob: (job: { repositories: string[]; since?: { time: number; predecessor: string }; out: string }) => Promise<{ id: string } | undefined>,
  ) {}

  /**
   * `GET /api/export?repositories=a,b[&after=<bundle id>&afterTime=<ms>]`: a signed tar bundle of the
   * repositories (what changed after the named bundle, or 204 when nothing did). The caller must read
   * everything in each of them, since a bundle is not filtered path by path.
   */
  async export(ctx: RequestContext): Promise<void> {
    allowMethods(ctx, ['GET']);
    const params = ctx.url.searchParams;
    const keys = (params.get('repositories') ?? '').split(',').filter(Boolean);
    if (keys.length === 0) throw badRequest('name the repositories: ?repositories=a,b');
    for (const key of keys) await this.requireWholeRead(ctx, key);
    const after = params.get('after');
    const afterTime = Number(params.get('afterTime'));
    if (after !== null && !UUID.test(after)) throw badRequest(`after=${after} is not a bundle id`);
    if (after !== null && !Number.isSafeInteger(afterTime)) throw badRequest('after=<bundle id> needs afterTime=<its createdAt, ms>');
    if (!(await stat(storagePaths(this.config).bundleSigningKey).catch(() => undefined))) {
      throw new ShelfError('NO_SIGNING_KEY', 409, 'this Shelf has no bundle signing key to sign an export with; make one with shelf keys create');
    }
    // Made in a job thread into a file (its manifest is one large JSON document), then streamed from disk.
    const file = join(storagePaths(this.config).imports, `export-${randomUUID()}.tar`);
    await mkdir(dirname(file), { recursive: true });
    try {
      const made = await this.exportJob({ repositories: keys, out: file, ...(after !== null && { since: { time: afterTime, predecessor: after } }) });
      if (!made) {
        ctx.res.writeHead(204).end();
        return;
      }
      const { size } = await stat(file);
      ctx.res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': size, 'x-shelf-bundle': made.id });
      await pipeline(createReadStream(file), ctx.res);
    } finally {
      await rm(file, { force: true });
    }
  }

  /**
   * `GET /api/export/paths?repository=a[&after=<path>]`: the repository's paths in index order, a page at a
   * time (`next` names where the following page starts), for a target that mirrors deletions.
   */
  async paths(ctx: RequestContext): Promise<void> {
    allowMethods(ctx, ['GET']);
    const key = ctx.url.searchParams.get('repository') ?? '';
    await this.requireWholeRead(ctx, key);
    const page = await this.index.listArtifacts(key, { after: ctx.url.searchParams.get('after') ?? '', limit: PATHS_PAGE });
    sendJson(ctx, 200, { paths: page.map((record) => record.path), next: page.length === PATHS_PAGE ? page.at(-1)!.path : null });
  }

  /** A bundle or a listing is not filtered path by path: its caller must read all of the repository. */
  private async requireWholeRead(ctx: RequestContext, key: string): Promise<void> {
    const repo = this.config.repositories.find((r) => r.key === key);
    if (!repo || repo.type === 'virtual') throw notFound(`local or remote repository ${key}`);
    if (await this.access.readsEverything(ctx, repo)) return;
    const principal = await this.access.principal(ctx);
    if (principal.username === null) throw unauthorized(`authentication required to export ${key}`);
    throw new ShelfError('FORBIDDEN', 403, `${principal.username} may not read all of ${key}, so it cannot be exported`);
  }

  /** `GET /api/replication`, `POST /api/replication/<name>/run`: administrators only. */
  async handle(ctx: RequestContext, segments: string[]): Promise<void> {
    await this.access.administrator(ctx);
    if (segments.length === 0) {
      allowMethods(ctx, ['GET', 'HEAD']);
      const states = new Map((await this.index.replicationStates()).map((state) => [state.name, state]));
      sendJson(
        ctx,
        200,
        this.config.replication.map(({ name, direction, url, repositories, intervalSeconds }) => {
          const state = states.get(name);
          return { name, direction, url, repositories, intervalSeconds, ...state };
        }),
      );
      return;
    }
    const [name, action] = segments;
    if (segments.length !== 2 || action !== 'run') throw notFound(`API endpoint /api/replication/${segments.join('/')}`);
    allowMethods(ctx, ['POST']);
    if (!this.config.replication.some((r) => r.name === name)) throw notFound(`replication ${name}`);
    sendJson(ctx, 200, await this.run(name!));
  }
}
