import { createHash } from 'node:crypto';
import { readAll } from '../http/request-body.js';
import type { Artifact, CacheStatus, Repository } from '../repos/repository.js';
import type { ArtifactRecord } from '../storage/metadata-index.js';

/**
 * How formats that build per-package documents (npm packuments, PyPI project pages) read one member
 * repository's contribution: an identity that changes whenever the contribution does (the key of a
 * built view), and the bytes, read only when a view has to be built.
 */
export interface MemberSource<Bytes> {
  identity: string;
  load(): Promise<Bytes>;
  /** For a document cached from an upstream: how this request found it (HIT, MISS, STALE, REVALIDATED). */
  cacheStatus?: CacheStatus;
}

/** An artifact's whole content (small documents), by one read when the artifact offers one. */
export async function artifactBytes(artifact: Artifact, maxBytes: number): Promise<Buffer> {
  if (artifact.read && artifact.size !== undefined && artifact.size <= maxBytes) return artifact.read();
  return readAll(await artifact.open(), maxBytes);
}

/**
 * A document a remote repository caches from its upstream (fetched or revalidated as its freshness rules
 * say). Identity: the stored blob's digest.
 */
export async function cachedDocument(
  repo: Repository,
  path: string,
  maxBytes: number,
): Promise<MemberSource<{ bytes: Buffer; contentType: string }> | undefined> {
  const artifact = await repo.get(path);
  if (!artifact) return undefined;
  let bytes: Buffer | undefined;
  let sha256 = artifact.checksums?.sha256;
  if (sha256 === undefined) {
    // A miss still streaming from upstream: read it to the end; then it is committed and has a digest.
    bytes = await readAll(await artifact.open(), maxBytes);
    sha256 = (await repo.record(path))?.blob.sha256 ?? createHash('sha256').update(bytes).digest('hex');
  }
  return {
    identity: sha256,
    load: async () => ({ bytes: bytes ?? (await artifactBytes(artifact, maxBytes)), contentType: artifact.contentType }),
    ...(artifact.cacheStatus && { cacheStatus: artifact.cacheStatus }),
  };
}

/**
 * The files below `prefix` a remote repository holds, when it serves a cached document without its upstream
 * (offline or unreachable: STALE) and its `offlineMetadata` is `present-only`: all the document may list, so
 * clients resolve to versions they can download. Undefined: the document lists everything as cached.
 */
export async function presentFiles(repo: Repository, cacheStatus: CacheStatus | undefined, prefix: string): Promise<Set<string> | undefined> {
  if (!listsPresentOnly(repo, cacheStatus)) return undefined;
  return new Set((await repo.list({ prefix })).map((record) => record.path.slice(prefix.length)));
}

/** Whether a remote's cached metadata, found `cacheStatus`, may list only what the repository holds (see presentFiles). */
export const listsPresentOnly = (repo: Repository, cacheStatus: CacheStatus | undefined) =>
  cacheStatus === 'STALE' && repo.config.type === 'remote' && repo.config.offlineMetadata === 'present-only';

/** The identity of a document served with only the present files listed. */
export const presentIdentity = (identity: string, present: Set<string> | undefined) =>
  present ? `${identity}:${createHash('sha256').update([...present].join('\u0000')).digest('hex')}` : identity;

/**
 * The records a local repository keeps below `prefix` (one package's), with an identity over their paths,
 * contents and modification times; undefined when there are none.
 */
export async function hostedRecords(repo: Repository, prefix: string): Promise<MemberSource<ArtifactRecord[]> | undefined> {
  const records = await repo.list({ prefix });
  if (records.length === 0) return undefined;
  const identity = createHash('sha256');
  for (const r of records) identity.update(`${r.path}\u0000${r.blob.sha256}\u0000${r.modifiedAt}\u0000`);
  return { identity: identity.digest('hex'), load: async () => records };
}

/** One stored record's bytes (small metadata files). */
export async function readRecord(repo: Repository, record: ArtifactRecord, maxBytes: number): Promise<Buffer> {
  const artifact = await repo.get(record.path);
  return artifact ? artifactBytes(artifact, maxBytes) : Buffer.alloc(0);
}
