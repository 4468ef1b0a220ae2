import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { KeyObject } from 'node:crypto';
import type { ShelfConfig } from '../config/schema.js';
import { PathPattern } from '../repos/path-pattern.js';
import type { FsBlobStore } from '../storage/blob-store.js';
import { listAll } from '../storage/listing.js';
import type { MetadataIndex } from '../storage/metadata-index.js';
import { BUNDLE_FORMAT, bundleBlobPath, MANIFEST_FILE, SIGNATURE_FILE, type BundleManifest, type BundleRecord } from './manifest.js';
import { keyId, publicKeyOf, signBytes } from './signing.js';

export interface ExportOptions {
  repositories: string[];
  /** Only paths matching this Ant-style pattern. */
  paths?: string;
  /** Incremental: only what was stored or cached after this time (ms), following bundle `predecessor`. */
  since?: { time: number; predecessor: string };
  /** A directory that does not exist yet, or is empty. */
  out: string;
  signingKey: KeyObject;
}

/**
 * Writes a bundle directory: the selected repositories' index records, every blob they refer to (read
 * through the store, so each is verified on the way out), and the signed manifest listing every blob with
 * its sha256 and size. Users, passwords, tokens, keys and the audit log are never part of it.
 */
export async function exportBundle(
  { index, blobs, config }: { index: MetadataIndex; blobs: FsBlobStore; config: ShelfConfig },
  options: ExportOptions,
): Promise<BundleManifest> {
  const repositories = options.repositories.map((key) => {
    const repo = config.repositories.find((r) => r.key === key);
    if (!repo || repo.type === 'virtual') throw new Error(`${key} is not a local or remote repository of this config`);
    return { key: repo.key, format: repo.format, type: repo.type };
  });
  await mkdir(options.out, { recursive: true });
  if ((await readdir(options.out)).length > 0) throw new Error(`${options.out} is not empty`);
  const pattern = options.paths === undefined ? undefined : new PathPattern(options.paths);
  const records: BundleRecord[] = [];
  const sizes = new Map<string, number>();
  for (const { key } of repositories) {
    for await (const record of listAll(index, key)) {
      if (pattern && !pattern.matches(record.path)) continue;
      const changedAt = Math.max(record.modifiedAt, record.cache?.fetchedAt ?? 0);
      if (options.since && changedAt <= options.since.time) continue;
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
      sizes.set(record.blob.sha256, record.blob.size);
    }
  }
  for (const sha256 of sizes.keys()) {
    const target = join(options.out, bundleBlobPath(sha256));
    await mkdir(dirname(target), { recursive: true });
    await pipeline(await blobs.open(sha256), createWriteStream(target, { flags: 'wx' }));
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    id: randomUUID(),
    createdAt: Date.now(),
    predecessor: options.since?.predecessor ?? null,
    keyId: keyId(publicKeyOf(options.signingKey)),
    repositories,
    records,
    blobs: [...sizes].map(([sha256, size]) => ({ sha256, size })),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 1));
  await writeFile(join(options.out, MANIFEST_FILE), bytes);
  await writeFile(join(options.out, SIGNATURE_FILE), `${signBytes(bytes, options.signingKey)}\n`);
  return manifest;
}
