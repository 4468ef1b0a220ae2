import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { etagMatches } from '../http/send-artifact.js';
import { gunzip as gunzipCallback, gunzipSync, gzip as gzipCallback, gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { RequestContext } from '../http/request-context.js';
import { sendText } from '../http/respond.js';
import type { CacheStatus, Repository } from '../repos/repository.js';
import type { WorkerPool } from '../workers/pool.js';
import type { MemberSource } from './member-sources.js';
import { loadPackageMembers } from './package-routing.js';

/**
 * Metadata documents that formats build from their repositories' contents (npm packuments, PyPI project
 * pages) and serve many times: built once per change of their sources, kept in memory gzipped, rendered
 * per client base URL. Links inside a built document start with BASE_URL_PLACEHOLDER until rendering.
 */
export const BASE_URL_PLACEHOLDER = '@@shelf-base-url@@';

/** Sources smaller than this are built inline; a worker thread's round trip costs more than the work. */
const INLINE_BUILD_BYTES = 256 * 1024;
const gzip = promisify(gzipCallback);
const gunzip = promisify(gunzipCallback);

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

/** What a format builds: the texts it serves (with BASE_URL_PLACEHOLDER links) and whatever else it needs. */
export interface BuiltView {
  texts: Record<string, string>;
}

/** A view as kept: its texts gzipped (see CompactTexts), the rest as built. */
export type StoredView<View extends BuiltView> = Omit<View, 'texts'> & { texts: CompactTexts<keyof View['texts'] & string> };

/** At most this many renderings (form × base URL) of one view are kept. */
const MAX_RENDERINGS = 8;
/** Below this, gzip and gunzip run on the event loop; the thread pool's round trip costs more. */
const INLINE_ZLIB_BYTES = 64 * 1024;

const gzipped = (bytes: Buffer) => (bytes.length < INLINE_ZLIB_BYTES ? Promise.resolve(gzipSync(bytes)) : gzip(bytes));
// Measured on the compressed size: metadata unzips to about eight times as much.
const gunzipped = (bytes: Buffer) => (bytes.length < INLINE_ZLIB_BYTES / 8 ? Promise.resolve(gunzipSync(bytes)) : gunzip(bytes));

interface Rendering {
  body: Buffer;
  etag: string;
}

/** One text as kept: gzipped, whether it has links to fill in, and (without links) its one ETag. */
interface Template {
  gzip: Buffer;
  linked: boolean;
  etag?: string;
}

/**
 * A view's texts, kept gzipped (metadata shrinks to a sixth or less: a large packument's view takes a few
 * MB instead of tens) and rendered per client base URL on first use: the links filled in, gzipped again,
 * and an ETag over the plain text. Clients that do not accept gzip get the rendering unzipped per request.
 */
export class CompactTexts<Form extends string> {
  private readonly renderings = new Map<string, Promise<Rendering>>();

  private constructor(
    private readonly templates: Record<Form, Template>,
  ) {}

  static async of<Form extends string>(texts: Record<Form, string>): Promise<CompactTexts<Form>> {
    const entries = await Promise.all(
      Object.entries<string>(texts).map(async ([form, text]) => {
        const plain = Buffer.from(text);
        const linked = text.includes(BASE_URL_PLACEHOLDER);
        // A text without links is the same for every base URL: its one rendering is the template itself.
        return [form, { gzip: await gzipped(plain), linked, ...(!linked && { etag: etagOf(plain) }) }] as const;
      }),
    );
    return new CompactTexts(Object.fromEntries(entries) as Record<Form, Template>);
  }

  /** The memory the templates take (renderings are about as large again, once per base URL in use). */
  get bytes(): number {
    return Object.values<Template>(this.templates).reduce((sum, t) => sum + t.gzip.length, 0);
  }

  /** One text as built, links still BASE_URL_PLACEHOLDER. */
  async text(form: Form): Promise<string> {
    return (await gunzipped(this.templates[form].gzip)).toString('utf8');
  }

  /** The gzipped text of `form` with its links at `baseUrl`, rendered once. */
  render(form: Form, baseUrl: string): Promise<Rendering> {
    const template = this.templates[form];
    if (!template.linked) return Promise.resolve({ body: template.gzip, etag: template.etag! });
    const key = `${form} ${baseUrl}`;
    let rendering = this.renderings.get(key);
    if (!rendering) {
      rendering = this.text(form).then(async (text) => {
        const plain = Buffer.from(text.replaceAll(BASE_URL_PLACEHOLDER, baseUrl));
        return { body: await gzipped(plain), etag: etagOf(plain) };
      });
      rendering.catch(() => this.renderings.delete(key));
      if (this.renderings.size >= MAX_RENDERINGS) this.renderings.clear();
      this.renderings.set(key, rendering);
    }
    return rendering;
  }
}

/** Weak: the same document gzipped or not. */
const etagOf = (plain: Buffer) => `W/"${createHash('sha256').update(plain).digest('base64url').slice(0, 32)}"`;

export class DocumentViews<View extends BuiltView> {
  private readonly cache: LRUCache<string, StoredView<View> | false>;
  private readonly building = new Map<string, Promise<StoredView<View> | undefined>>();

  /**
   * `otherBytes`: an estimate of the memory a view takes besides its texts (its maps of versions or files),
   * for the size bound: `maxBytes` of views per process.
   */
  constructor(otherBytes: (view: Omit<View, 'texts'>) => number, maxBytes = 256 * 1024 * 1024) {
    this.cache = new LRUCache({
      maxSize: maxBytes,
      // A rendering for one base URL is counted beside the templates.
      sizeCalculation: (view) => (view ? view.texts.bytes * 2 + otherBytes(view) : 1) || 1,
    });
  }

  /**
   * The view for `key` (which must name every source's identity), built once however many requests ask
   * at the same time; `undefined` (nothing to show) is remembered too.
   */
  async get(key: string, build: () => Promise<View | undefined>): Promise<StoredView<View> | undefined> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached || undefined;
    let pending = this.building.get(key);
    if (!pending) {
      pending = build()
        .then(async (view) => view && ({ ...view, texts: await CompactTexts.of(view.texts) } as StoredView<View>))
        .finally(() => this.building.delete(key));
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
  ): Promise<StoredView<View> | undefined> {
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
   * it, which every package client does.
   */
  async send(
    ctx: RequestContext,
    view: StoredView<View>,
    form: keyof View['texts'] & string,
    contentType: string,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const accepted = acceptsGzip(ctx.req.headers['accept-encoding']);
    const { body, etag } = await view.texts.render(form, ctx.baseUrl);
    const cache = ctx.access.cache && { 'x-shelf-cache': ctx.access.cache };
    // Clients keep the document and revalidate it (pip's HTTP cache does): an unchanged one costs a 304.
    const validators = { etag: headers.etag ?? etag, 'cache-control': 'max-age=0, must-revalidate' };
    if (etagMatches(ctx.req.headers['if-none-match'], validators.etag)) {
      ctx.res.writeHead(304, { ...VARY, ...cache, ...validators }).end();
      return;
    }
    const sent = accepted ? body : await gunzipped(body);
    sendText(ctx, 200, sent, contentType, { ...VARY, ...cache, ...validators, ...headers, ...(accepted && { 'content-encoding': 'gzip' }) });
  }
}

/** Cache results from least to most fresh: a view shows the first that any of its sources has. */
const CACHE_STATUS_ORDER: CacheStatus[] = ['MISS', 'STALE', 'REVALIDATED', 'HIT'];

/** Whether a request accepts a gzipped answer. */
const acceptsGzip = (acceptEncoding: string | undefined) => /\bgzip\b/.test(acceptEncoding ?? '');

/** Views are negotiated by Accept and sent gzipped or not by Accept-Encoding. */
export const VARY = { vary: 'accept, accept-encoding' };
