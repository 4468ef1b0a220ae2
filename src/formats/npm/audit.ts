import { pipeline } from 'node:stream/promises';
import { notFound, ShelfError } from '../../errors.js';
import { firstValue } from '../../header-values.js';
import { readAll, requestBody } from '../../http/request-body.js';
import { allowMethods, type RequestContext } from '../../http/request-context.js';
import { RemoteRepo } from '../../repos/remote-repo.js';
import type { Repository } from '../../repos/repository.js';
import { leafMembers } from '../package-routing.js';

const AUDIT_ENDPOINTS = ['advisories/bulk', 'audits/quick', 'audits'];
const MAX_AUDIT_BODY = 32 * 1024 * 1024;
/** Headers passed through both ways untouched, so a gzipped report stays gzipped end to end. */
const REQUEST_HEADERS = ['content-type', 'content-encoding', 'accept', 'accept-encoding'];
const RESPONSE_HEADERS = ['content-type', 'content-encoding'];

/**
 * `npm audit` (and the audit after `npm install`): passed through to the upstream of the first remote
 * member, the only place that has an advisory database. Without one, a clear 404 that npm reports as
 * "audit endpoint returned an error" and that does not fail an install.
 */
export async function proxyAudit(ctx: RequestContext, repo: Repository, endpoint: string): Promise<void> {
  if (!AUDIT_ENDPOINTS.includes(endpoint)) throw notFound(`npm audit endpoint ${endpoint}`);
  allowMethods(ctx, ['POST']);
  const remote = leafMembers(repo).find((r): r is RemoteRepo => r instanceof RemoteRepo && !r.config.offline);
  if (!remote) {
    throw new ShelfError('NO_ADVISORIES', 404, `${repo.key} has no remote npm repository to ask for security advisories`);
  }
  const body = await readAll(requestBody(ctx, MAX_AUDIT_BODY), MAX_AUDIT_BODY);
  const response = await remote.upstream.request(remote.upstream.urlFor(`-/npm/v1/security/${endpoint}`), {
    method: 'POST',
    body,
    headers: pickHeaders(ctx.req.headers, REQUEST_HEADERS),
  });
  ctx.res.writeHead(response.status, pickHeaders(response.headers, RESPONSE_HEADERS));
  await pipeline(response.body, ctx.res);
}

function pickHeaders(headers: Record<string, string | string[] | undefined>, names: string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = firstValue(headers[name]);
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}
