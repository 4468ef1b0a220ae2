import { methodNotAllowed, notFound } from '../../errors.js';
import { allowMethods, type RequestContext } from '../../http/request-context.js';
import { sendJson, sendText } from '../../http/respond.js';
import { deployTarget } from '../../repos/deploy-target.js';
import type { Repository } from '../../repos/repository.js';
import { readAll, requestBody } from '../../http/request-body.js';
import { perProcess, type AccessNeed, type FormatModule, type FormatServices, type SegmentHandler } from '../format-module.js';
import { checkDistFile, checkProject, normalizeProject, projectOfPath, pypiPaths } from './names.js';
import { ProjectViews } from './project-views.js';
import { pypiRules } from './pypi-rules.js';
import { getFile, getJsonApi, getProjectList, getProjectPage } from './read-handlers.js';
import { uploadFile } from './upload.js';
import { pypiRetention } from './retention.js';
import { pypiPromotion } from './promotion.js';

/** One cache of built project pages per serving process. */
const viewsFor = perProcess((services) => new ProjectViews(services.workers));

function redirect(ctx: RequestContext, location: string): void {
  ctx.res.writeHead(301, { location, 'content-length': 0 }).end();
}

function requireRead(ctx: RequestContext): void {
  allowMethods(ctx, ['GET', 'HEAD']);
}

async function dispatch(ctx: RequestContext, repo: Repository, segments: string[], services: FormatServices): Promise<void> {
  const views = viewsFor(services);
  const [area, ...rest] = segments;
  const base = `${ctx.baseUrl}/${repo.key}`;
  if (area === undefined || (area === '' && rest.length === 0)) {
    allowMethods(ctx, ['POST']);
    const stored = await uploadFile(ctx, deployTarget(repo, 'upload'), services.uploads, services.config.server.maxUploadBytes, (project) =>
      services.access.require(ctx, 'write', repo, project),
    );
    return sendText(ctx, 200, `OK: ${stored}\n`);
  }
  if (area === 'simple') {
    requireRead(ctx);
    if (rest.length === 0) return redirect(ctx, `${base}/simple/`);
    if (rest.length === 1 && rest[0] === '') return getProjectList(ctx, repo, views, services.access);
    const [name = '', trailing] = rest;
    const project = normalizeProject(checkProject(name));
    // PEP 503: one URL per project, normalized and ending in a slash.
    if (rest.length > 2 || (trailing !== undefined && trailing !== '')) throw notFound(`/${repo.key}/simple/${rest.join('/')}`);
    if (name !== project || trailing === undefined) return redirect(ctx, `${base}/simple/${project}/`);
    return getProjectPage(ctx, repo, project, views);
  }
  if (area === 'packages' && rest.length === 2) {
    requireRead(ctx);
    const [project = '', requested = ''] = rest;
    if (normalizeProject(checkProject(project)) !== project) throw notFound(`/${repo.key}/packages/${project}/`);
    const metadata = requested.endsWith('.metadata');
    const filename = checkDistFile(metadata ? requested.slice(0, -'.metadata'.length) : requested);
    return getFile(ctx, repo, project, filename, metadata, { views, downloads: services.downloads });
  }
  if (area === 'pypi' && (rest.length === 2 || rest.length === 3) && rest[rest.length - 1] === 'json') {
    requireRead(ctx);
    const project = normalizeProject(checkProject(rest[0]!));
    return getJsonApi(ctx, repo, project, rest.length === 3 ? rest[1] : undefined, views);
  }
  throw notFound(`/${repo.key}/${segments.join('/')}`);
}

/**
 * `PUT /api/pypi/<repoKey>/yank/<project>/<file>` (body: the reason, optional) and `DELETE` to unyank:
 * PEP 592 marks on hosted files, which pip then skips unless a requirement pins that exact version.
 */
const pypiApi: SegmentHandler = async (ctx, segments, services) => {
  const [repoKey, action, name, requested, ...rest] = segments;
  const repo = repoKey === undefined ? undefined : services.repos.get(repoKey);
  if (!repo || repo.format !== 'pypi') throw notFound(`PyPI repository ${repoKey ?? ''}`);
  if (action !== 'yank' || name === undefined || requested === undefined || rest.length > 0) {
    throw notFound(`API endpoint /api/pypi/${segments.join('/')}`);
  }
  const project = normalizeProject(checkProject(name));
  const filename = checkDistFile(requested);
  const target = deployTarget(repo, 'upload');
  await services.access.require(ctx, 'annotate', target, project);
  if (!(await target.record(pypiPaths.file(project, filename)))) throw notFound(`${filename} of ${project} in ${target.key}`);
  const path = pypiPaths.yank(project, filename);
  if (ctx.method === 'PUT') {
    const reason = (await readAll(requestBody(ctx, 4096), 4096)).toString('utf8').trim();
    await target.put(path, [Buffer.from(reason)], { contentType: 'text/plain; charset=utf-8' });
    return sendJson(ctx, 200, { repo: target.key, project, filename, yanked: reason || true });
  }
  if (ctx.method === 'DELETE') {
    if (await target.record(path)) await target.prune(path);
    return sendJson(ctx, 200, { repo: target.key, project, filename, yanked: false });
  }
  throw methodNotAllowed(ctx.method, ['PUT', 'DELETE']);
};

/**
 * The permission a PyPI request needs; the subject is the normalized project name. An upload names its
 * project in the body, so it is checked for the repository here and for the project once that is read.
 */
function pypiAccessNeed([area, ...rest]: string[]): AccessNeed {
  if (area === undefined || (area === '' && rest.length === 0)) return { action: 'write' };
  const project = area === 'simple' || area === 'packages' || area === 'pypi' ? rest[0] : undefined;
  if (project === undefined || project === '') return { action: 'read' };
  return { action: 'read', subject: normalizeProject(checkProject(project)) };
}

/**
 * Python packages: `index-url = http://shelf:8080/<repoKey>/simple/` for pip, and
 * `twine upload --repository-url http://shelf:8080/<repoKey>/`. Errors are plain text with the message as
 * the status line's reason too, where twine shows it (as PyPI does).
 */
export const pypiFormat: FormatModule = {
  name: 'pypi',
  rules: pypiRules,
  api: pypiApi,
  accessNeed: (_method, segments) => pypiAccessNeed(segments),
  subjectOf: projectOfPath,
  handle: dispatch,
  sendError(ctx, err) {
    ctx.res.statusMessage = err.message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200);
    sendText(ctx, err.status, `${err.message}\n`, 'text/plain; charset=utf-8', err.headers);
  },
  retention: pypiRetention,
  promotion: pypiPromotion,
};
