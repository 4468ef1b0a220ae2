import { mapBounded, METADATA_READ_CONCURRENCY } from '../../concurrency.js';
import type { RequestContext } from '../../http/request-context.js';
import type { Repository } from '../../repos/repository.js';
import type { ArtifactRecord } from '../../storage/metadata-index.js';
import type { WorkerPool } from '../../workers/pool.js';
import { BASE_URL_PLACEHOLDER, buildOffLoop, DocumentViews, type StoredView } from '../document-views.js';
import { cachedDocument, hostedRecords, presentFiles, presentIdentity, readRecord, type MemberSource } from '../member-sources.js';
import { npmPaths } from './names.js';
import { buildPackumentView, type PackumentSource, type PackumentTask, type PackumentView } from './packument.js';

/** Upstream packuments beyond this are refused (the public registry's largest are a few tens of MB). */
const MAX_PACKUMENT_BYTES = 200 * 1024 * 1024;

/** One member's contribution to a packument. */
type SourceHandle = MemberSource<PackumentSource>;

/**
 * Packuments as repositories serve them, built once per change of their sources (see document-views.ts).
 * A view is keyed by the identity of every source it was built from, so a new publish or a refreshed
 * upstream document builds a new one.
 */
export class PackumentViews {
  // Per version: its span, its tarball reference and its dist-tags entry, a few hundred bytes.
  private readonly views = new DocumentViews<PackumentView>((view) => Object.keys(view.versionSpans).length * 400);

  constructor(private readonly workers: WorkerPool) {}

  /** The packument `repo` serves for `name`, or undefined when none of its members has the package. */
  async view(repo: Repository, name: string, ctx?: RequestContext): Promise<ServedPackument | undefined> {
    return this.views.forPackage(
      repo,
      name,
      (member) => sourceOf(member, name),
      async (sources) => {
        const task: PackumentTask = { name, servedRepo: repo.key, sources };
        const bytes = sources.reduce((sum, s) => sum + sourceBytes(s), 0);
        return buildOffLoop(this.workers, new URL('./packument-worker.js', import.meta.url), buildPackumentView, task, bytes);
      },
      ctx,
    );
  }

  /** Answers with a view's full or abbreviated document, tarball links at the client's base URL. */
  send(ctx: RequestContext, view: ServedPackument, form: 'full' | 'corgi', contentType: string, headers: Record<string, string>): Promise<void> {
    return this.views.send(ctx, view, form, contentType, headers);
  }
}

/** A packument view as kept and served. */
export type ServedPackument = StoredView<PackumentView>;

/** One version's manifest from a view, with tarball links at `baseUrl`. */
export async function versionManifest(view: ServedPackument, version: string, baseUrl: string): Promise<string | undefined> {
  const span = view.versionSpans[version];
  return span && (await view.texts.text('full')).slice(span[0], span[1]).replaceAll(BASE_URL_PLACEHOLDER, baseUrl);
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
  const document = await cachedDocument(repo, npmPaths.packument(name), MAX_PACKUMENT_BYTES);
  if (!document) return undefined;
  const present = await presentFiles(repo, document.cacheStatus, npmPaths.tarballPrefix(name));
  return {
    identity: presentIdentity(document.identity, present),
    load: async () => ({ repo: repo.key, kind: 'document', document: (await document.load()).bytes, ...(present && { presentTarballs: [...present] }) }),
    ...(document.cacheStatus && { cacheStatus: document.cacheStatus }),
  };
}

/** What a local repository records of a package: its versions' manifests, dist-tags and deprecations. */
async function hostedSource(repo: Repository, name: string): Promise<SourceHandle | undefined> {
  const prefix = npmPaths.hostedPrefix(name);
  const hosted = await hostedRecords(repo, prefix);
  const records = (await hosted?.load()) ?? [];
  const versions = records.filter((r) => r.path.startsWith(`${prefix}versions/`));
  if (!hosted || versions.length === 0) return undefined;
  return {
    identity: hosted.identity,
    load: async () => {
      const read = (record: ArtifactRecord) => readRecord(repo, record, MAX_PACKUMENT_BYTES);
      const valueAt = async (kind: string) =>
        Object.fromEntries(
          await mapBounded(
            records.filter((r) => r.path.startsWith(`${prefix}${kind}/`)),
            METADATA_READ_CONCURRENCY,
            async (r) => [r.path.slice(prefix.length + kind.length + 1), (await read(r)).toString('utf8')] as const,
          ),
        );
      const distTags = await valueAt('dist-tags');
      const deprecations = await valueAt('deprecated');
      return {
        repo: repo.key,
        kind: 'hosted',
        distTags,
        modifiedAt: records.reduce((latest, r) => Math.max(latest, r.modifiedAt), 0),
        versions: await mapBounded(versions, METADATA_READ_CONCURRENCY, async (record) => {
          const version = record.path.slice(`${prefix}versions/`.length, -'.json'.length);
          const deprecated = deprecations[version];
          return { manifest: await read(record), publishedAt: record.createdAt, ...(deprecated && { deprecated }) };
        }),
      };
    },
  };
}
