import { BLOB_PREFIXES, MissingBlobError, type BlobStore } from './blob-store.js';
import type { MetadataIndex } from './metadata-index.js';
import type { WorkerPool } from '../workers/pool.js';

export interface VerifyReport {
  checked: number;
  /** Blobs whose bytes no longer hash to their name. */
  corrupt: string[];
  /** Blobs the index refers to but the disk lacks. */
  missing: string[];
  /** Blob files no index entry refers to (a deleted file, or a crash between write and index); GC removes them. */
  orphans: string[];
}

/**
 * Re-hashes every blob the index refers to, in worker threads, and reports what no longer matches, and the
 * blob files the index does not know.
 */
export async function verifyBlobs(blobs: BlobStore, index: MetadataIndex, pool: WorkerPool): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, corrupt: [], missing: [], orphans: [] };
  for (const prefix of BLOB_PREFIXES) {
    const referenced = new Set(await index.blobDigestsWithPrefix(prefix));
    report.orphans.push(...(await blobs.listPrefix(prefix)).filter((sha256) => !referenced.has(sha256)));
  }
  let after = '';
  for (;;) {
    const page = await index.listBlobDigests(after, 256);
    if (page.length === 0) return report;
    await Promise.all(
      page.map(async (sha256) => {
        const digests = await blobs.withLocalFile(sha256, async (path) => (await pool.hashFile(path, ['sha256'])).digests).catch((err: unknown) => {
          if (err instanceof MissingBlobError) return undefined;
          throw err;
        });
        if (!digests) {
          report.missing.push(sha256);
          return;
        }
        if (digests.sha256 !== sha256) report.corrupt.push(sha256);
        report.checked++;
      }),
    );
    after = page.at(-1)!;
  }
}
