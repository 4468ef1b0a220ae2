import { mapBounded, METADATA_READ_CONCURRENCY } from '../../concurrency.js';
import type { RequestContext } from '../../http/request-context.js';
import { RemoteRepo } from '../../repos/remote-repo.js';
import type { Repository } from '../../repos/repository.js';
import type { WorkerPool } from '../../workers/pool.js';
import { buildOffLoop, DocumentViews, type StoredView } from '../document-views.js';
import { cachedDocument, hostedRecords, presentFiles, presentIdentity, readRecord, type MemberSource } from '../member-sources.js';
import { leafMembers } from '../package-routing.js';
import { pypiPaths } from './names.js';
import {
  buildProjectList,
  buildProjectView,
  type HostedFile,
  type ProjectList,
  type ProjectListTask,
  type ProjectSource,
  type ProjectTask,
  type ProjectView,
} from './project-view.js';

import { sendText } from '../../http/respond.js';
import { renderProjectListHtml, renderProjectListJson } from './simple-api.js';

const WORKER = new URL('./project-worker.js', import.meta.url);
/** Upstream pages and lists beyond this are refused (PyPI's full project list is about 30 MB). */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;

/**
 * Project pages and project lists as repositories serve them, built once per change of their sources
 * (see document-views.ts) from the members that may answer for each project (see package-routing.ts).
 */
export class ProjectViews {
  // Per file: its served entry and its reference, a few hundred bytes; per listed project, its name.
  private readonly pages = new DocumentViews<ProjectView>((view) => view.files.length * 600);
  private readonly lists = new DocumentViews<ProjectList>((list) => list.names.length * 64);

  constructor(private readonly workers: WorkerPool) {}

  async view(repo: Repository, project: string, ctx?: RequestContext): Promise<StoredView<ProjectView> | undefined> {
    return this.pages.forPackage(
      repo,
      project,
      (member) => projectSource(member, project),
      async (sources) => {
        const bytes = sources.reduce((sum, s) => sum + (s.kind === 'page' ? s.body.length : s.files.length * 512), 0);
        const task: ProjectTask = { kind: 'page', project, servedRepo: repo.key, sources };
        return buildOffLoop(this.workers, WORKER, buildProjectView, task, bytes);
      },
      ctx,
    );
  }

  /** Every project any member holds (hosted) or its upstream lists, sorted. */
  async projectList(repo: Repository): Promise<StoredView<ProjectList>> {
    const members = await Promise.all(leafMembers(repo).map(async (member) => ({ member, names: await projectNames(member) })));
    const key = [repo.key, ...members.map((m) => `${m.member.key}:${m.names.identity}`)].join('\u0000');
    return (await this.lists.get(key, async () => {
      const task: ProjectListTask = { kind: 'list', members: await Promise.all(members.map((m) => m.names.load())) };
      const bytes = task.members.reduce((sum, m) => sum + (Array.isArray(m) ? m.length * 16 : m.body.length), 0);
      return buildOffLoop(this.workers, WORKER, buildProjectList, task, bytes);
    }))!;
  }

  sendPage(ctx: RequestContext, view: StoredView<ProjectView>, form: 'html' | 'json', contentType: string): Promise<void> {
    return this.pages.send(ctx, view, form, contentType);
  }

  /** The list, or when the caller may read only some projects (`visible`), the part they may read. */
  async sendList(ctx: RequestContext, list: StoredView<ProjectList>, form: 'html' | 'json', contentType: string, visible?: (project: string) => boolean): Promise<void> {
    if (!visible) return this.lists.send(ctx, list, form, contentType);
    const names = list.names.filter(visible);
    sendText(ctx, 200, form === 'html' ? renderProjectListHtml(names) : renderProjectListJson(names), contentType, { 'cache-control': 'private, no-store' });
  }
}

async function projectSource(repo: Repository, project: string): Promise<MemberSource<ProjectSource> | undefined> {
  if (repo.type === 'local') {
    const prefix = pypiPaths.hostedPrefix(project);
    const hosted = await hostedRecords(repo, prefix);
    const records = (await hosted?.load()) ?? [];
    const fileRecords = records.filter((r) => r.path.startsWith(`${prefix}files/`));
    if (!hosted || fileRecords.length === 0) return undefined;
    const byPath = new Map(records.map((r) => [r.path, r]));
    const read = async (path: string) => {
      const record = byPath.get(path);
      return record && (await readRecord(repo, record, 1024 * 1024)).toString('utf8');
    };
    return {
      identity: hosted.identity,
      load: async () => ({
        repo: repo.key,
        kind: 'hosted',
        files: await mapBounded(fileRecords, METADATA_READ_CONCURRENCY, async (r) => {
          const file = JSON.parse((await read(r.path))!) as HostedFile;
          const reason = await read(pypiPaths.yank(project, file.filename));
          return reason === undefined ? file : { ...file, yanked: reason === '' ? (true as const) : reason };
        }),
      }),
    };
  }
  const page = await cachedDocument(repo, pypiPaths.page(project), MAX_INDEX_BYTES);
  if (!page || !(repo instanceof RemoteRepo)) return undefined;
  const present = await presentFiles(repo, page.cacheStatus, pypiPaths.file(project, ''));
  return {
    identity: presentIdentity(page.identity, present),
    load: async () => {
      const { bytes, contentType } = await page.load();
      const pageUrl = repo.upstream.urlFor(`${project}/`).href;
      return { repo: repo.key, kind: 'page', body: bytes.toString('utf8'), contentType, pageUrl, ...(present && { presentFiles: [...present] }) };
    },
    ...(page.cacheStatus && { cacheStatus: page.cacheStatus }),
  };
}

/** The project names one member knows: its hosted projects, or its upstream's list. */
async function projectNames(repo: Repository): Promise<MemberSource<ProjectListTask['members'][number]>> {
  if (repo.type === 'local') {
    const records = await repo.list({ prefix: '.pypi/', contains: '/files/' });
    const names = [...new Set(records.map((r) => r.path.split('/')[1]!))];
    return { identity: names.join(','), load: async () => names };
  }
  const list = await cachedDocument(repo, pypiPaths.projectList, MAX_INDEX_BYTES).catch(() => undefined);
  if (!list) return { identity: 'none', load: async () => [] };
  return {
    identity: list.identity,
    load: async () => {
      const { bytes, contentType } = await list.load();
      return { body: bytes.toString('utf8'), contentType };
    },
  };
}
