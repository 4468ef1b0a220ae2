import type { Logger } from 'pino';
import type { RepositoryConfig, ShelfConfig } from '../config/schema.js';
import { formatModule } from '../formats/index.js';
import type { FormatModule } from '../formats/format-module.js';
import { BLOB_PREFIXES, type BlobStore } from '../storage/blob-store.js';
import type { ArtifactRecord, MetadataIndex } from '../storage/metadata-index.js';
import { listAll } from '../storage/listing.js';
import { withLease } from './lease.js';
import { mapBounded } from '../concurrency.js';

/** Blob files swept at once within one folder. */
const SWEEP_CONCURRENCY = 32;

export interface GcOptions {
  /** Only report what would be removed. */
  dryRun: boolean;
  /** Called as the sweep advances through the blob store's 256 folders. */
  onProgress?(done: number, total: number): void;
}

export interface RepositoryGarbage {
  repo: string;
  /** Index entries removed (Docker layers no manifest refers to, untagged manifests). */
  paths: number;
  /** Bytes of the blobs freed with them (counted in `blobs` too). */
  bytes: number;
}

export interface GcReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  repositories: RepositoryGarbage[];
  /** Blob files no repository refers to: deleted, or with dryRun, that would be. */
  blobs: { count: number; bytes: number };
  /** Blob files nothing refers to that were kept because they are younger than the grace period. */
  keptYoung: number;
  /** Checksum records of blobs nothing refers to, dropped from the index. */
  records: number;
}

interface GcDependencies {
  blobs: BlobStore;
  index: MetadataIndex;
  config: ShelfConfig;
  log: Logger;
}


/**
 * Mark and sweep over the index, while Shelf serves. First each format removes the entries of its hosted
 * repositories that nothing needs (Docker layers no manifest refers to); then, folder by folder, every
 * blob file that no index entry refers to and that is older than the grace period is deleted (see
 * BlobStore.sweep for how a write racing with the sweep is protected). One run at a time in the cluster.
 */
export function collectGarbage(deps: GcDependencies, options: GcOptions): Promise<GcReport> {
  return withLease(deps.index, 'garbage collection', async (lease) => {
    const started = Date.now();
    const storedBefore = started - deps.config.storage.gc.graceSeconds * 1000;
    const { deleteUntagged } = deps.config.docker.gc;
    const report: GcReport = {
      dryRun: options.dryRun,
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      repositories: [],
      blobs: { count: 0, bytes: 0 },
      keptYoung: 0,
      records: 0,
    };
    // Dry run: how many of each blob's references the format steps would have removed.
    const removedReferences = new Map<string, number>();
    for (const repo of deps.config.repositories) {
      const format = formatModule(repo.format);
      if (repo.type !== 'local' || !format.garbage) continue;
      const found: RepositoryGarbage = { repo: repo.key, paths: 0, bytes: 0 };
      const garbage = repositoryGarbage(deps, repo, format, { storedBefore, deleteUntagged: deleteUntagged && repo.allowDelete });
      for await (const record of garbage) {
        // Not if a push renewed it since it was read: a manifest pushed meanwhile may name it.
        if (!options.dryRun && !(await deps.index.deleteArtifact(record.repo, record.path, record.modifiedAt))) continue;
        found.paths += 1;
        removedReferences.set(record.blob.sha256, (removedReferences.get(record.blob.sha256) ?? 0) + 1);
        if ((await deps.index.blobReferences(record.blob.sha256)) === (options.dryRun ? removedReferences.get(record.blob.sha256) : 0)) {
          found.bytes += record.blob.size;
        }
      }
      if (found.paths > 0) report.repositories.push(found);
      await lease.renew();
    }

    for (const [done, prefix] of BLOB_PREFIXES.entries()) {
      const referenced = new Set(await deps.index.blobDigestsWithPrefix(prefix));
      // Blob files are independent of each other: several are swept at once (the work is waiting on the disk).
      await mapBounded(await deps.blobs.listPrefix(prefix), SWEEP_CONCURRENCY, async (sha256) => {
        if (referenced.has(sha256) && !(options.dryRun && (await onlyRemovedReferences(deps.index, sha256, removedReferences)))) return;
        const outcome = await deps.blobs.sweep(sha256, storedBefore, async () => (await deps.index.blobReferences(sha256)) > 0, options.dryRun);
        if (outcome === 'young') report.keptYoung += 1;
        if (typeof outcome !== 'number') return;
        report.blobs.count += 1;
        report.blobs.bytes += outcome;
      });
      if (!options.dryRun) report.records += await deps.index.forgetUnreferencedBlobs(prefix);
      options.onProgress?.(done + 1, BLOB_PREFIXES.length);
      if (done % 16 === 15) await lease.renew();
    }
    report.durationMs = Date.now() - started;
    deps.log.info({ gc: report }, options.dryRun ? 'garbage collection (dry run) done' : 'garbage collection done');
    return report;
  });
}

/** A format's garbage in one hosted repository, read through its listing page by page. */
function repositoryGarbage(
  deps: GcDependencies,
  repo: RepositoryConfig,
  format: FormatModule,
  policy: { storedBefore: number; deleteUntagged: boolean },
): AsyncIterable<ArtifactRecord> {
  return format.garbage!(listAll(deps.index, repo.key), {
    ...policy,
    read: (record) => deps.blobs.read(record.blob.sha256, record.blob.size),
  });
}

async function onlyRemovedReferences(index: MetadataIndex, sha256: string, removed: Map<string, number>): Promise<boolean> {
  const count = removed.get(sha256);
  return count !== undefined && (await index.blobReferences(sha256)) === count;
}
