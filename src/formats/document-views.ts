import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { etagMatches } from '../http/send-artifact.js';
import { gzip as gzipCallback } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { RequestContext } from '../http/request-context.js';
import { sendText } from '../http/respond.js';
import type { CacheStatus, Repository } from '../repos/repository.js';
import type { WorkerPool } from '../workers/pool.js';
import type { MemberSource } from './member-sources.js';
import { loadPackageMembers } from './package-routing.js';

/**
 * Metadata documents that formats build from their repositories' contents (npm packuments, PyPI project
 * pages) and serve many times: built once per change of their sources, kept in memory, rendered per
 * client base URL. Links inside a built document start with BASE_URL_PLACEHOLDER until rendering.
 */
export const BASE_URL_PLACEHOLDER = '@@shelf-base-url@@';

/** Sources smaller than this are built inline; a worker thread's round trip costs more than the work. */
const INLINE_BUILD_BYTES = 256 * 1024;
const gzip = promisify(gzipCallback);

/**
 * Builds `task` with `build` on the event loop when its sources are small, otherwise in a worker thread
 * running `workerModule` (whose default export must be the same function).
 */
export async function buildOffLoop<Task, Result>(
  workers: WorkerPool,
  workerModule: URL,
  build: (task: Task) => Result,
  task: Task,
  sourceBytes: number,
): Promise<Result> {
  return sourceBytes < INLINE_BUILD_BYTES ? build(task) : workers.run<Result>(workerModule, task);
}

export class DocumentViews<View extends object> {
  private readonly cache: LRUCache<string, View | false>;
  private readonly building = new Map<string, Promise<View | undefined>>();
  private readonly rendered = new WeakMap<View, Map<string, { body: Buffer; etag: string }>>();

  /** `textLength`: the characters a view holds, for the size bound (512 MiB of views per process). */
  constructor(textLength: (view: View) => number) {
    this.cache = new LRUCache({
      maxSize: 512 * 1024 * 1024,
      // Strings are UTF-16 in memory, and each view keeps a rendering or two beside its text.
      sizeCalculation: (view) => (view ? textLength(view) * 4 : 1) || 1,
    });
  }

  /**
   * The view for `key` (which must name every source's identity), built once however many requests ask
   * at the same time; `undefined` (nothing to show) is remembered too.
   */
  async get(key: string, build: () => Promise<View | undefined>): Promise<View | undefined> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached || undefined;
    let pending = this.building.get(key);
    if (!pending) {
      pending = build().finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    const view = await pending;
    this.cache.set(key, view ?? false);
    return view;
  }

  /**
   * The view of one package as `repo` serves it, from the members that may answer for it (see
   * package-routing.ts), keyed by every member source's identity; undefined when no member has it.
   */
  async forPackage<Source>(
    repo: Repository,
    name: string,
    sourceOf: (member: Repository) => Promise<MemberSource<Source> | undefined>,
    build: (sources: Source[]) => Promise<View | undefined>,
    ctx?: RequestContext,
  ): Promise<View | undefined> {
    const members = await loadPackageMembers(repo, name, sourceOf);
    if (ctx) {
      // The answer is as fresh as its least fresh cached source.
      const statuses = members.map((m) => m.value.cacheStatus).filter((s): s is CacheStatus => s !== undefined);
      const status = CACHE_STATUS_ORDER.find((s) => statuses.includes(s));
      if (status) ctx.access.cache = status;
    }
    if (members.length === 0) return undefined;
    const key = [repo.key, name, ...members.map((m) => `${m.repo.key}:${m.value.identity}`)].join('\u0000');
    return this.get(key, async () => build(await Promise.all(members.map((m) => m.value.load()))));
  }

  /**
   * Answers with one of a view's texts, its links at the client's base URL, gzipped when the client accepts
   * it (metadata shrinks to a sixth, and gzip runs on libuv's thread pool, off the event loop). Each form
   * is rendered once per base URL and encoding.
   */
  async send(ctx: RequestContext, view: View, form: string, text: string, contentType: string, headers: Record<string, string> = {}): Promise<void> {
    const gzipped = acceptsGzip(ctx.req.headers['accept-encoding']);
    const { body, etag } = await this.render(view, form, text, ctx.baseUrl, gzipped);
    const cache = ctx.access.cache && { 'x-shelf-cache': ctx.access.cache };
    // Clients keep the document and revalidate it (pip's HTTP cache does): an unchanged one costs a 304.
    const validators = { etag: headers.etag ?? etag, 'cache-control': 'max-age=0, must-revalidate' };
    if (etagMatches(ctx.req.headers['if-none-match'], validators.etag)) {
      ctx.res.writeHead(304, { ...VARY, ...cache, ...validators }).end();
      return;
    }
    sendText(ctx, 200, body, contentType, { ...VARY, ...cache, ...validators, ...headers, ...(gzipped && { 'content-encoding': 'gzip' }) });
  }

  private async render(view: View, form: string, text: string, baseUrl: string, gzipped: boolean): Promise<{ body: Buffer; etag: string }> {
    let forView = this.rendered.get(view);
    if (!forView) this.rendered.set(view, (forView = new Map()));
    const key = `${form} ${gzipped ? 'gzip' : 'identity'} ${baseUrl}`;
    let rendered = forView.get(key);
    if (!rendered) {
      const plain = Buffer.from(text.replaceAll(BASE_URL_PLACEHOLDER, baseUrl));
      // Weak: the same document gzipped or not.
      const etag = `W/"${createHash('sha256').update(plain).digest('base64url').slice(0, 32)}"`;
      rendered = { body: gzipped ? await gzip(plain) : plain, etag };
      if (forView.size >= 8) forView.clear();
      forView.set(key, rendered);
    }
    return rendered;
  }
}

/** Cache results from least to most fresh: a view shows the first that any of its sources has. */
const CACHE_STATUS_ORDER: CacheStatus[] = ['MISS', 'STALE', 'REVALIDATED', 'HIT'];

/** Whether a request accepts a gzipped answer. */
const acceptsGzip = (acceptEncoding: string | undefined) => /\bgzip\b/.test(acceptEncoding ?? '');

/** Views are negotiated by Accept and sent gzipped or not by Accept-Encoding. */
export const VARY = { vary: 'accept, accept-encoding' };
