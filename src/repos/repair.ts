import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataIndex } from '../storage/metadata-index.js';
import type { VerifyReport } from '../storage/verify.js';
import { RemoteRepo } from './remote-repo.js';
import type { RepositoryRegistry } from './repository-registry.js';

export interface RepairReport {
  /** `repo/path` of cached files fetched again from their upstream. */
  refetched: string[];
  /** `repo/path` (and why) of files that could not be restored: hosted content must be deployed again. */
  unrepaired: string[];
}

/**
 * After a verify: damaged blobs go to quarantine, and every file that referred to a damaged or missing blob
 * is fetched again when a remote repository cached it; what was hosted is reported, since only its
 * publisher has the bytes.
 */
export async function repairBlobs(report: VerifyReport, blobs: BlobStore, index: MetadataIndex, repos: RepositoryRegistry): Promise<RepairReport> {
  const repair: RepairReport = { refetched: [], unrepaired: [] };
  for (const sha256 of report.corrupt) await blobs.quarantine(sha256);
  for (const sha256 of [...report.corrupt, ...report.missing]) {
    for (const record of await index.findByChecksum({ sha256 })) {
      const where = `${record.repo}/${record.path}`;
      const repo = repos.get(record.repo);
      if (!(repo instanceof RemoteRepo)) {
        repair.unrepaired.push(`${where} (hosted: deploy it again)`);
        continue;
      }
      try {
        const artifact = await repo.get(record.path);
        if (artifact) await (await artifact.open()).toArray();
        const stored = await index.getArtifact(record.repo, record.path);
        if (stored && (await blobs.has(stored.blob.sha256))) repair.refetched.push(where);
        else repair.unrepaired.push(`${where} (the upstream no longer has it)`);
      } catch (err) {
        repair.unrepaired.push(`${where} (${(err as Error).message})`);
      }
    }
  }
  return repair;
}
