import type { FsBlobStore } from './blob-store.js';
import type { MetadataIndex } from './metadata-index.js';
import type { WorkerPool } from '../workers/pool.js';

export interface VerifyReport {
  checked: number;
  /** Blobs whose bytes no longer hash to their name. */
  corrupt: string[];
  /** Blobs the index refers to but the disk lacks. */
  missing: string[];
}

/** Re-hashes every blob the index refers to, in worker threads, and reports what no longer matches. */
export async function verifyBlobs(blobs: FsBlobStore, index: MetadataIndex, pool: WorkerPool): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, corrupt: [], missing: [] };
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
