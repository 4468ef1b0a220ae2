import { badRequest, notFound } from '../errors.js';
import { allowMethods, type RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import type { GcReport } from '../lifecycle/gc.js';
import type { RetentionReport } from '../lifecycle/retention.js';
import type { ImportSummary } from '../bundles/import-job.js';
import type { ImportedBundle } from '../storage/metadata-index.js';
import { boundedRequestBody, readJsonBody } from '../http/request-body.js';
import type { AccessControl } from '../security/access-control.js';
import type { TrafficHistory } from '../observability/traffic-history.js';
import { SHELF_VERSION } from '../version.js';
import { boundedNumber } from './api-params.js';
import type { NodeHeartbeat } from '../cluster/node-heartbeat.js';

/** The maintenance jobs an administrator may start by hand (they also run on their schedules). */
export interface MaintenanceJobs {
  gc(dryRun: boolean): Promise<GcReport>;
  retention(dryRun: boolean): Promise<RetentionReport>;
  /** A bundle at a path on this host (a directory, an archive or its first part). */
  importBundle(path: string): Promise<ImportSummary>;
  /** A bundle archive sent as a request body (push replication). */
  importUpload(archive: AsyncIterable<Buffer>): Promise<ImportSummary>;
  importedBundles(): Promise<ImportedBundle[]>;
}

/**
 * `/api/system/`: `gc` and `retention` (POST, `?dryRun=true`), audited; `info`, `traffic` (requests and
 * cache results per minute, `?minutes=60`), `audit` (the latest audit events, `?limit=100`) and `nodes`
 * (the nodes sharing this index, with their heartbeats). All for administrators only.
 */
export class SystemApi {
  constructor(
    private readonly access: AccessControl,
    private readonly jobs: MaintenanceJobs,
    /** An archive sent as the body is refused past this (server.maxUploadBytes). */
    private readonly maxUploadBytes: number,
    private readonly traffic: TrafficHistory,
    private readonly heartbeat: NodeHeartbeat,
  ) {}

  async handle(ctx: RequestContext, segments: string[]): Promise<void> {
    const view = segments.length === 1 ? segments[0] : undefined;
    if (view === 'info' || view === 'traffic' || view === 'audit' || view === 'nodes') {
      allowMethods(ctx, ['GET', 'HEAD']);
      await this.access.administrator(ctx);
      const params = ctx.url.searchParams;
      const body =
        view === 'info' ? this.info()
        : view === 'traffic' ? await this.trafficView(params)
        : view === 'nodes' ? await this.nodesView()
        : await this.auditView(params);
      return sendJson(ctx, 200, body, { 'cache-control': 'no-store' });
    }
    const job = segments.length === 1 && (segments[0] === 'gc' || segments[0] === 'retention') ? segments[0] : undefined;
    if (!job) throw notFound(`API endpoint /api/system/${segments.join('/')}`);
    allowMethods(ctx, ['POST']);
    const actor = this.access.actor(ctx, await this.access.administrator(ctx));
    const dryRun = ctx.url.searchParams.get('dryRun') === 'true';
    const report = await this.jobs[job](dryRun);
    this.access.audit.record({ event: job, ...actor, dryRun, result: 'ok' });
    sendJson(ctx, 200, report);
  }

  private info() {
    const { id, startedAt } = this.heartbeat.node;
    return { version: SHELF_VERSION, node: process.version, nodeId: id, startedAt: new Date(startedAt).toISOString() };
  }

  private async nodesView() {
    return (await this.heartbeat.nodes()).map((node) => ({
      ...node,
      startedAt: new Date(node.startedAt).toISOString(),
      heartbeatAt: new Date(node.heartbeatAt).toISOString(),
    }));
  }

  private async trafficView(params: URLSearchParams) {
    const minutes = boundedNumber(params, 'minutes', 60, 24 * 60);
    return (await this.traffic.recent(minutes)).map(({ minute, ...counts }) => ({ at: new Date(minute * 60_000).toISOString(), ...counts }));
  }

  private auditView(params: URLSearchParams) {
    return this.access.audit.recent(boundedNumber(params, 'limit', 100, 1000));
  }

  /** `GET /api/bundles`: the bundles imported here, oldest first, with who signed them and where they came from (administrators). */
  async handleBundles(ctx: RequestContext): Promise<void> {
    allowMethods(ctx, ['GET', 'HEAD']);
    await this.access.administrator(ctx);
    sendJson(ctx, 200, await this.jobs.importedBundles());
  }

  /**
   * `POST /api/import`: `{"path": "/media/usb/bundle.tar"}`, a bundle on this host's disks, or a bundle
   * archive as the body (`Content-Type: application/x-tar`, what push replication sends); verified and
   * applied in a thread of its own. Administrators only.
   */
  async handleImport(ctx: RequestContext): Promise<void> {
    allowMethods(ctx, ['POST']);
    const actor = this.access.actor(ctx, await this.access.administrator(ctx));
    let path = 'upload';
    const run = async () => {
      if (ctx.req.headers['content-type']?.startsWith('application/x-tar')) return this.jobs.importUpload(boundedRequestBody(ctx, this.maxUploadBytes));
      const body = (await readJsonBody(ctx)) as { path?: unknown } | undefined;
      if (typeof body?.path !== 'string' || !body.path.startsWith('/')) throw badRequest('send a bundle archive (application/x-tar), or name one on this host as {"path": "/absolute/path"}');
      path = body.path;
      return this.jobs.importBundle(path);
    };
    try {
      const summary = await run();
      this.access.audit.record({ event: 'import', ...actor, path, bundle: summary.id, result: 'ok' });
      sendJson(ctx, 200, summary);
    } catch (err) {
      this.access.audit.record({ event: 'import', ...actor, path, result: 'failed', reason: (err as Error).message });
      throw err;
    }
  }
}
