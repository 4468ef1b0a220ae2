import { methodNotAllowed, notFound } from '../errors.js';
import type { RequestContext } from '../http/request-context.js';
import { sendJson } from '../http/respond.js';
import type { GcReport } from '../lifecycle/gc.js';
import type { AccessControl } from '../security/access-control.js';

/** `/api/system/`: maintenance jobs an administrator starts (Artifactory's `/api/system/storage/gc`). */
export class SystemApi {
  constructor(
    private readonly access: AccessControl,
    private readonly collectGarbage: (dryRun: boolean) => Promise<GcReport>,
  ) {}

  async handle(ctx: RequestContext, segments: string[]): Promise<void> {
    if (segments.join('/') !== 'gc') throw notFound(`API endpoint /api/system/${segments.join('/')}`);
    if (ctx.method !== 'POST') throw methodNotAllowed(ctx.method, ['POST']);
    const actor = this.access.actor(ctx, await this.access.administrator(ctx));
    const dryRun = ctx.url.searchParams.get('dryRun') === 'true';
    const report = await this.collectGarbage(dryRun);
    this.access.audit.record({ event: 'gc', ...actor, dryRun, blobs: report.blobs.count, bytes: report.blobs.bytes, result: 'ok' });
    sendJson(ctx, 200, report);
  }
}
