import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { PathPattern } from '../repos/path-pattern.js';
import { listAll } from '../storage/listing.js';
import { leafMembers } from '../formats/package-routing.js';
import type { JobContext } from '../lifecycle/job-context.js';
import type { ArtifactRecord, MetadataIndex } from '../storage/metadata-index.js';
import type { SeedList } from '../seed/seed-list.js';
import { bundleSink, type BundleSink } from './bundle-files.js';
import { BUNDLE_FORMAT, bundleBlobPath, MANIFEST_FILE, SIGNATURE_FILE, type BundleManifest, type BundleRecord } from './manifest.js';
import { keyId, loadSigningKey, publicKeyOf, signBytes } from './signing.js';
import { storagePaths } from '../app.js';

/** What a bundle holds: whole repositories (their paths matching a pattern), or what seed runs listed. */
export type ExportSelection = { repositories: string[]; paths?: string } | { seed: SeedList[] };

/** What an export reads: the index and blobs, and the repositories (a seed list may name a virtual one). */
export type ExportContext = Pick<JobContext, 'index' | 'blobs' | 'config' | 'repos'>;

export interface ExportOptions {
  selection: ExportSelection;
  /** Incremental: only what was stored or cached after this time (ms), following bundle `predecessor`. */
  since?: { time: number; predecessor: string };
  /** Where the bundle goes (see bundleSink), made once the bundle is known not to be empty. */
  sink: () => Promise<BundleSink>;
  /** An incremental bundle with nothing in it is not written (export answers undefined). */
  skipEmpty?: boolean;
  signingKey: KeyObject;
}

/**
 * Writes a bundle (a directory or an archive): the selected repositories' index records, every blob they refer to (read
 * through the store, so each is verified on the way out), and the signed manifest listing every blob with
 * its sha256 and size. Users, passwords, tokens, keys and the audit log are never part of it.
 */
export async function exportBundle(context: ExportContext, options: ExportOptions): Promise<BundleManifest | undefined> {
  const { blobs, config } = context;
  const storageRepos = new Map<string, BundleManifest['repositories'][number]>();
  const records: BundleRecord[] = [];
  const blobInfo = new Map<string, BundleManifest['blobs'][number]>();
  for await (const record of selectedRecords(context, options.selection)) {
    const changedAt = Math.max(record.modifiedAt, record.cache?.fetchedAt ?? 0);
    if (options.since && changedAt <= options.since.time) continue;
    const repo = config.repositories.find((r) => r.key === record.repo)!;
    storageRepos.set(repo.key, { key: repo.key, format: repo.format, type: repo.type });
    records.push({
      repo: record.repo,
      path: record.path,
      sha256: record.blob.sha256,
      contentType: record.contentType,
      createdAt: record.createdAt,
      modifiedAt: record.modifiedAt,
      ...(record.cache && {
        cache: {
          fetchedAt: record.cache.fetchedAt,
          expiresAt: record.cache.expiresAt,
          ...(record.cache.upstreamEtag !== undefined && { upstreamEtag: record.cache.upstreamEtag }),
          ...(record.cache.upstreamLastModified !== undefined && { upstreamLastModified: record.cache.upstreamLastModified }),
        },
      }),
    });
    const { sha256, size, sha1, md5, sha512 } = record.blob;
    blobInfo.set(sha256, { sha256, size, sha1, md5, sha512 });
  }
  if (options.skipEmpty && records.length === 0) return undefined;
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    id: randomUUID(),
    createdAt: Date.now(),
    predecessor: options.since?.predecessor ?? null,
    keyId: keyId(publicKeyOf(options.signingKey)),
    repositories: [...storageRepos.values()],
    records,
    blobs: [...blobInfo.values()],
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 1));
  const signature = Buffer.from(`${signBytes(bytes, options.signingKey)}\n`);
  // The manifest first: an archive is checked before a single blob is read.
  const sink = await options.sink();
  await sink.add(MANIFEST_FILE, bytes.length, bytes);
  await sink.add(SIGNATURE_FILE, signature.length, signature);
  for (const { sha256, size } of blobInfo.values()) await sink.add(bundleBlobPath(sha256), size, await blobs.open(sha256));
  await sink.close();
  return manifest;
}

/** The index records a selection names, each once, repository by repository. */
async function* selectedRecords({ index, config, repos }: ExportContext, selection: ExportSelection): AsyncIterable<ArtifactRecord> {
  if ('repositories' in selection) {
    const pattern = selection.paths === undefined ? undefined : new PathPattern(selection.paths);
    for (const key of selection.repositories) {
      const repo = config.repositories.find((r) => r.key === key);
      if (!repo || repo.type === 'virtual') throw new Error(`${key} is not a local or remote repository of this config`);
      for await (const record of listAll(index, key)) if (!pattern || pattern.matches(record.path)) yield record;
    }
    return;
  }
  // A seed list names paths as the repository it seeded through saw them; they are stored in its members.
  const wanted = new Map<string, Set<string>>();
  for (const list of selection.seed) {
    for (const [key, paths] of Object.entries(list.repositories)) {
      const repo = repos.get(key);
      if (!repo) throw new Error(`${key} is not a repository of this config`);
      for (const { key: storage } of leafMembers(repo)) {
        const set = wanted.get(storage) ?? new Set<string>();
        for (const path of paths) set.add(path);
        wanted.set(storage, set);
      }
    }
  }
  for (const [repo, paths] of wanted) {
    const seen = new Set<string>();
    for (const path of [...paths].sort()) {
      const found = path.endsWith('/') ? listAll(index, repo, path) : oneRecord(index, repo, path);
      for await (const record of found) {
        if (seen.has(record.path)) continue;
        seen.add(record.path);
        yield record;
      }
    }
  }
}

async function* oneRecord(index: MetadataIndex, repo: string, path: string): AsyncIterable<ArtifactRecord> {
  const record = await index.getArtifact(repo, path);
  if (record) yield record;
}

/**
 * An archive of whole repositories (what changed after `since`, skipped when nothing did), signed with this
 * Shelf's key: what `GET /api/export` serves, made in a job thread so the manifest's JSON never blocks a
 * serving loop. Answers the bundle's id, or undefined when it would be empty.
 */
export async function exportToFile(
  context: ExportContext,
  repositories: string[],
  out: string,
  since?: ExportOptions['since'],
): Promise<{ id: string } | undefined> {
  const manifest = await exportBundle(context, {
    selection: { repositories },
    ...(since && { since }),
    skipEmpty: since !== undefined,
    signingKey: await loadSigningKey(storagePaths(context.config).bundleSigningKey),
    sink: () => bundleSink(out),
  });
  return manifest && { id: manifest.id };
}
