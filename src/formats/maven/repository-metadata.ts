import type { LocalRepo } from '../../repos/local-repo.js';
import type { WorkerPool } from '../../workers/pool.js';
import { buildOffLoop } from '../document-views.js';
import { artifactBytes } from '../member-sources.js';
import { METADATA_FILE, isSnapshotVersion } from './layout.js';
import { lastUpdated, renderArtifactMetadata, renderSnapshotMetadata, snapshotMetadataOf } from './metadata.js';
import { mergeMetadataTask, type MergeTask } from './metadata-worker.js';

const WORKER = new URL('./metadata-worker.js', import.meta.url);
export const MAX_GROUP_METADATA_BYTES = 4 * 1024 * 1024;

/**
 * The `maven-metadata.xml` a local repository serves at `path`, generated from the files it holds: for
 * `group/artifact/`, every version with a file of the artifact; for `group/artifact/1.0-SNAPSHOT/`, the
 * newest timestamped build. Undefined when there is nothing to describe.
 */
export async function metadataOf(repo: LocalRepo, path: string): Promise<Buffer | undefined> {
  // A group's plugin list is the one metadata document deployed rather than generated (see maven-format put).
  const plugins = await repo.get(path);
  if (plugins) return artifactBytes(plugins, MAX_GROUP_METADATA_BYTES);
  const dir = path.slice(0, -METADATA_FILE.length);
  const parts = dir.split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  const records = await repo.list({ prefix: dir });
  const last = parts.at(-1)!;
  if (isSnapshotVersion(last) && parts.length >= 3) {
    const files = records.filter((r) => !r.path.slice(dir.length).includes('/')).map((r) => ({ name: r.path.slice(dir.length), modifiedAt: r.modifiedAt }));
    const snapshot = snapshotMetadataOf(parts.slice(0, -2).join('.'), parts.at(-2)!, last, files);
    return snapshot && Buffer.from(renderSnapshotMetadata(snapshot));
  }
  const versions = new Set<string>();
  let updated = 0;
  for (const record of records) {
    const [version, file, ...deeper] = record.path.slice(dir.length).split('/');
    if (deeper.length > 0 || !version || !file?.startsWith(`${last}-`)) continue;
    versions.add(version);
    updated = Math.max(updated, record.modifiedAt);
  }
  if (versions.size === 0) return undefined;
  return Buffer.from(renderArtifactMetadata({ groupId: parts.slice(0, -1).join('.'), artifactId: last, versions: [...versions], lastUpdated: lastUpdated(updated) }));
}

/** Members' metadata for one path as one document (off the event loop when large). */
export async function mergeMetadata(path: string, documents: Buffer[], workers: WorkerPool): Promise<Buffer | undefined> {
  if (documents.length <= 1) return documents[0];
  const task: MergeTask = { snapshotLevel: isSnapshotVersion(path.split('/').at(-2) ?? ''), documents: documents.map((d) => d.toString('utf8')) };
  const bytes = documents.reduce((sum, d) => sum + d.length, 0);
  const merged = await buildOffLoop(workers, WORKER, mergeMetadataTask, task, bytes);
  return merged === undefined ? undefined : Buffer.from(merged);
}
