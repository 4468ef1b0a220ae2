import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { readAll } from '../../http/request-body.js';
import type { Repository } from '../../repos/repository.js';
import type { ArtifactRecord } from '../../storage/metadata-index.js';
import type { WorkerPool } from '../../workers/pool.js';
import { loadPackageMembers } from '../package-routing.js';
import { npmPaths } from './names.js';
import { BASE_URL_PLACEHOLDER, buildPackumentView, type PackumentSource, type PackumentTask, type PackumentView } from './packument.js';

/** Upstream packuments beyond this are refused (the public registry's largest are a few tens of MB). */
export const MAX_PACKUMENT_BYTES = 200 * 1024 * 1024;
/** Sources smaller than this are built inline; a worker thread's round trip costs more than the work. */
const INLINE_BUILD_BYTES = 256 * 1024;
const gzip = promisify(gzipCallback);

/** One member's contribution to a packument: how to recognise it unchanged, and how to load it. */
interface SourceHandle {
  identity: string;
  load(): Promise<PackumentSource>;
}

type RenderedForm = 'full' | 'corgi';

/**
 * Packuments as repositories serve them, built once per change of their sources and kept in memory
 * (most recently used first, bounded by size). A view is keyed by the identity of every source it was
 * built from, so a new publish or a refreshed upstream document builds a new one.
 */
export class PackumentViews {
  private readonly cache = new LRUCache<string, PackumentView | false>({
    maxSize: 512 * 1024 * 1024,
    // Strings are UTF-16 in memory, and each view keeps a rendering or two beside its text.
    sizeCalculation: (view) => (view ? (view.full.length + view.corgi.length) * 4 : 1) || 1,
  });
  private readonly building = new Map<string, Promise<PackumentView | undefined>>();
  private readonly rendered = new WeakMap<PackumentView, Map<string, Buffer>>();

  constructor(private readonly workers: WorkerPool) {}

  /** The packument `repo` serves for `name`, or undefined when none of its members has the package. */
  async view(repo: Repository, name: string): Promise<PackumentView | undefined> {
    const members = await loadPackageMembers(repo, name, (member) => sourceOf(member, name));
    if (members.length === 0) return undefined;
    const key = [repo.key, name, ...members.map((m) => `${m.repo.key}:${m.value.identity}`)].join('\u0000');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached || undefined;
    let build = this.building.get(key);
    if (!build) {
      build = this.build(repo.key, name, members.map((m) => m.value)).finally(() => this.building.delete(key));
      this.building.set(key, build);
    }
    const view = await build;
    this.cache.set(key, view ?? false);
    return view;
  }

  private async build(servedRepo: string, name: string, handles: SourceHandle[]): Promise<PackumentView | undefined> {
    const sources = await Promise.all(handles.map((h) => h.load()));
    const task: PackumentTask = { name, servedRepo, sources };
    const bytes = sources.reduce((sum, s) => sum + sourceBytes(s), 0);
    if (bytes < INLINE_BUILD_BYTES) return buildPackumentView(task);
    return this.workers.run<PackumentView | undefined>(new URL('./packument-worker.js', import.meta.url), task);
  }

  /**
   * A view's document with tarball links at `baseUrl`, gzipped when asked (packuments shrink to a sixth,
   * and gzip runs on libuv's thread pool, off the event loop); rendered once per base URL and encoding.
   */
  async render(view: PackumentView, form: RenderedForm, baseUrl: string, gzipped: boolean): Promise<Buffer> {
    let forView = this.rendered.get(view);
    if (!forView) this.rendered.set(view, (forView = new Map()));
    const key = `${form} ${gzipped ? 'gzip' : 'identity'} ${baseUrl}`;
    let body = forView.get(key);
    if (!body) {
      body = Buffer.from(view[form].replaceAll(BASE_URL_PLACEHOLDER, baseUrl));
      if (gzipped) body = await gzip(body);
      if (forView.size >= 8) forView.clear();
      forView.set(key, body);
    }
    return body;
  }
}

/** One version's manifest from a view, with tarball links at `baseUrl`. */
export function versionManifest(view: PackumentView, version: string, baseUrl: string): string | undefined {
  const span = view.versionSpans[version];
  return span && view.full.slice(span[0], span[1]).replaceAll(BASE_URL_PLACEHOLDER, baseUrl);
}

function sourceBytes(source: PackumentSource): number {
  return source.kind === 'document'
    ? source.document.byteLength
    : source.versions.reduce((sum, v) => sum + v.manifest.byteLength, 0);
}

async function sourceOf(repo: Repository, name: string): Promise<SourceHandle | undefined> {
  return repo.type === 'local' ? hostedSource(repo, name) : documentSource(repo, name);
}

/** A cached upstream document, fetched or revalidated as the remote repository's freshness rules say. */
async function documentSource(repo: Repository, name: string): Promise<SourceHandle | undefined> {
  const path = npmPaths.packument(name);
  const artifact = await repo.get(path);
  if (!artifact) return undefined;
  let document: Buffer | undefined;
  let sha256 = artifact.checksums?.sha256;
  if (sha256 === undefined) {
    // A miss still streaming from upstream: read it to the end; then it is committed and has a digest.
    document = await readAll(await artifact.open(), MAX_PACKUMENT_BYTES);
    sha256 = (await repo.record(path))?.blob.sha256 ?? createHash('sha256').update(document).digest('hex');
  }
  return {
    identity: sha256,
    load: async () => ({
      repo: repo.key,
      kind: 'document',
      document: document ?? (await readAll(await artifact.open(), MAX_PACKUMENT_BYTES)),
    }),
  };
}

/** What a local repository records of a package: its versions' manifests, dist-tags and deprecations. */
async function hostedSource(repo: Repository, name: string): Promise<SourceHandle | undefined> {
  const prefix = npmPaths.hostedPrefix(name);
  const records = await repo.list({ prefix });
  const versions = records.filter((r) => r.path.startsWith(`${prefix}versions/`));
  if (versions.length === 0) return undefined;
  const identity = createHash('sha256');
  for (const r of records) identity.update(`${r.path}\u0000${r.blob.sha256}\u0000${r.modifiedAt}\u0000`);
  return {
    identity: identity.digest('hex'),
    load: async () => {
      const read = async (record: ArtifactRecord) => {
        const artifact = await repo.get(record.path);
        return artifact ? readAll(await artifact.open(), MAX_PACKUMENT_BYTES) : Buffer.alloc(0);
      };
      const valueAt = async (kind: string) =>
        Object.fromEntries(
          await Promise.all(
            records
              .filter((r) => r.path.startsWith(`${prefix}${kind}/`))
              .map(async (r) => [r.path.slice(prefix.length + kind.length + 1), (await read(r)).toString('utf8')] as const),
          ),
        );
      const [distTags, deprecations] = await Promise.all([valueAt('dist-tags'), valueAt('deprecated')]);
      return {
        repo: repo.key,
        kind: 'hosted',
        distTags,
        modifiedAt: Math.max(...records.map((r) => r.modifiedAt)),
        versions: await Promise.all(
          versions.map(async (record) => {
            const version = record.path.slice(`${prefix}versions/`.length, -'.json'.length);
            const deprecated = deprecations[version];
            return { manifest: await read(record), publishedAt: record.createdAt, ...(deprecated && { deprecated }) };
          }),
        ),
      };
    },
  };
}
