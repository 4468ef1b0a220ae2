import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { storagePaths } from '../app.js';
import { runInJobThread } from '../lifecycle/job-thread.js';
import type { ShelfConfig } from '../config/schema.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataIndex } from '../storage/metadata-index.js';
import { bundleSource, type BundleSource } from './bundle-files.js';
import { importBundle } from './import.js';
import { bundleBytes } from './manifest.js';
import { loadPublicKey } from './signing.js';

/** What an import did, as the CLI prints it and the API answers it. */
export interface ImportSummary {
  id: string;
  /** false: imported before, nothing changed. */
  imported: boolean;
  predecessor: string | null;
  records: number;
  blobs: number;
  newBlobs: number;
}

/** An import from a path on this host (a directory, an archive or its first part). */
export async function runImport(
  context: { index: MetadataIndex; blobs: BlobStore; config: ShelfConfig },
  path: string,
  onProgress: (done: number, total: number) => void = () => undefined,
  origin = `file:${path}`,
): Promise<ImportSummary> {
  return importFrom(context, await bundleSource(path), origin, onProgress);
}

/** Imports a bundle with the configured trusted keys (see importBundle). */
export async function importFrom(
  context: { index: MetadataIndex; blobs: BlobStore; config: ShelfConfig },
  source: BundleSource,
  origin: string,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<ImportSummary & { createdAt: number; bytes: number }> {
  const trusted = await Promise.all(context.config.bundles.trustedKeys.map((file) => loadPublicKey(file)));
  const result = await importBundle(context, source, origin, trusted, onProgress);
  const { id, predecessor, records, blobs, createdAt } = result.manifest;
  const bytes = bundleBytes(result.manifest);
  return { id, imported: result.imported, predecessor, records: records.length, blobs: blobs.length, newBlobs: result.newBlobs, createdAt, bytes };
}

/**
 * A bundle archive sent over HTTP (push replication): kept whole on disk first, then imported in a thread
 * of its own like a file; nothing is visible until it is verified, and the file goes either way.
 */
export async function importUploaded(config: ShelfConfig, archive: AsyncIterable<Buffer>): Promise<ImportSummary> {
  const file = join(storagePaths(config).imports, `${randomUUID()}.tar`);
  await mkdir(dirname(file), { recursive: true });
  try {
    await pipeline(archive, createWriteStream(file, { flags: 'wx' }));
    return await runInJobThread<ImportSummary>(config, { kind: 'import', path: file, origin: 'upload' });
  } finally {
    await rm(file, { force: true });
  }
}
