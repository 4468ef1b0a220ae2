import { Worker } from 'node:worker_threads';
import type { ShelfConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { withLease } from '../lifecycle/lease.js';
import type { FsBlobStore } from '../storage/blob-store.js';
import type { MetadataIndex } from '../storage/metadata-index.js';
import { bundleSource } from './bundle-files.js';
import { importBundle } from './import.js';
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

/** How often a long import renews its lease (which lasts five minutes). */
const LEASE_RENEWAL_MS = 60_000;

/**
 * Imports a bundle with the configured trusted keys, one import at a time across the cluster (a lease in
 * the index), so two imports of one bundle never race to apply it.
 */
export async function runImport(
  context: { index: MetadataIndex; blobs: FsBlobStore; config: ShelfConfig },
  path: string,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<ImportSummary> {
  const trusted = await Promise.all(context.config.bundles.trustedKeys.map((file) => loadPublicKey(file)));
  return withLease(context.index, 'bundle-import', async (lease) => {
    let renewed = Date.now();
    const result = await importBundle(context, await bundleSource(path), `file:${path}`, trusted, (done, total) => {
      onProgress(done, total);
      if (Date.now() - renewed > LEASE_RENEWAL_MS) {
        renewed = Date.now();
        void lease.renew().catch(() => undefined);
      }
    });
    const { id, predecessor, records, blobs } = result.manifest;
    return { id, imported: result.imported, predecessor, records: records.length, blobs: blobs.length, newBlobs: result.newBlobs };
  });
}

/**
 * An import started through the API, run in a thread of its own with its own storage handles: reading and
 * hashing gigabytes never runs on the event loop that serves requests.
 */
export function importInThread(config: ShelfConfig, path: string): Promise<ImportSummary> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./import-thread.js', import.meta.url), { workerData: { config, path } });
    worker.once('message', (message: { summary?: ImportSummary; error?: { code: string; status: number; message: string } }) => {
      if (message.summary) resolve(message.summary);
      else reject(new ShelfError(message.error!.code, message.error!.status, message.error!.message));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the import thread ended (exit ${code}) without an answer`)));
  });
}
