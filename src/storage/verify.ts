import { BLOB_PREFIXES, type FsBlobStore } from './blob-store.js';
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
export async function verifyBlobs(blobs: FsBlobStore, index: MetadataIndex, pool: WorkerPool): Promise<VerifyReport> {
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
        if (!(await blobs.has(sha256))) {
          report.missing.push(sha256);
          return;
        }
        const { digests } = await pool.hashFile(blobs.pathOf(sha256), ['sha256']);
        if (digests.sha256 !== sha256) report.corrupt.push(sha256);
        report.checked++;
      }),
    );
    after = page.at(-1)!;
  }
}
