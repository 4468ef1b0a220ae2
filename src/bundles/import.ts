import type { KeyObject } from 'node:crypto';
import type { ShelfConfig } from '../config/schema.js';
import type { BlobStore, StoredBlob } from '../storage/blob-store.js';
import type { MetadataIndex } from '../storage/metadata-index.js';
import type { BundleSource } from './bundle-files.js';
import { BundleRefused } from './bundle-refused.js';
import { bundleBytes, bundleManifestSchema, type BundleManifest } from './manifest.js';
import { keyId, verifiedBy } from './signing.js';
import { withLease } from '../lifecycle/lease.js';

export interface ImportResult {
  manifest: BundleManifest;
  /** false: this bundle was imported before, and nothing changed. */
  imported: boolean;
  /** Blobs that were not in the store before. */
  newBlobs: number;
}

/**
 * Imports a bundle (a directory, an archive, or an archive's parts). Nothing becomes visible until everything is checked: the manifest's signature
 * against the trusted keys, its repositories against this config, its predecessor against the bundles
 * imported here, and every blob's sha256 and size while it is copied into the store (unreferenced, so
 * invisible). Then all records are applied in one index transaction. A refused import removes the blobs it
 * added; an interrupted one leaves only unreferenced blobs, which GC removes; importing again completes.
 */
export async function importBundle(
  { index, blobs, config }: { index: MetadataIndex; blobs: BlobStore; config: ShelfConfig },
  source: BundleSource,
  /** Where it came from, as the list of imported bundles shows it: `file:<path>`, `replication:<name>`. */
  origin: string,
  trusted: KeyObject[],
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<ImportResult> {
  const { bytes, signature } = await source.manifest();
  if (trusted.length === 0) throw new BundleRefused('no trusted bundle keys are configured (bundles.trustedKeys)');
  if (!verifiedBy(bytes, signature.trim(), trusted)) {
    throw new BundleRefused(`the bundle's signature does not verify with any trusted key (${trusted.map(keyId).join(', ')}): it was altered, or signed by a key this Shelf does not trust`);
  }
  const parsed = bundleManifestSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  if (!parsed.success) throw new BundleRefused(`the bundle's manifest is not valid: ${parsed.error.issues[0]?.message}`);
  const manifest = parsed.data;
  for (const repo of manifest.repositories) {
    const here = config.repositories.find((r) => r.key === repo.key);
    if (!here || here.format !== repo.format || here.type !== repo.type) {
      throw new BundleRefused(`the bundle holds the ${repo.type} ${repo.format} repository ${repo.key}, which this config does not define alike`);
    }
  }
  // One import of a bundle at a time across the cluster; imports of different bundles run side by side.
  return withLease(index, `bundle-import:${manifest.id}`, async (lease) => {
    const imported = (await index.importedBundles()).map((bundle) => bundle.id);
    if (imported.includes(manifest.id)) return { manifest, imported: false, newBlobs: 0 };
    if (manifest.predecessor !== null && !imported.includes(manifest.predecessor)) {
      throw new BundleRefused(`the bundle follows bundle ${manifest.predecessor}, which has not been imported here; import that one first`);
    }
    let renewed = Date.now();
    return copyAndApply({ index, blobs }, source, manifest, origin, (done, total) => {
      onProgress(done, total);
      if (Date.now() - renewed > LEASE_RENEWAL_MS) {
        renewed = Date.now();
        void lease.renew().catch(() => undefined);
      }
    });
  });
}

/** How often a long import renews its lease (which lasts five minutes). */
const LEASE_RENEWAL_MS = 60_000;

/** Copies and verifies every blob (invisible until referenced), then applies all records in one transaction. */
async function copyAndApply(
  { index, blobs }: { index: MetadataIndex; blobs: BlobStore },
  source: BundleSource,
  manifest: BundleManifest,
  origin: string,
  onProgress: (done: number, total: number) => void,
): Promise<ImportResult> {
  const stored = new Map<string, StoredBlob>();
  const added: string[] = [];
  try {
    const listed = new Map(manifest.blobs.map((blob) => [blob.sha256, blob]));
    for await (const { sha256, body } of source.blobs(listed)) {
      const existed = await blobs.has(sha256);
      const { size, sha1, md5, sha512 } = listed.get(sha256)!;
      // The signed manifest vouches for the digests besides sha256: only sha256 is computed, and checked.
      const knownDigests = sha1 && md5 && sha512 ? { sha1, md5, sha512 } : undefined;
      const blob = await blobs.write(body, { expect: { sha256, size }, ...(knownDigests && { knownDigests }) }).catch((err: Error) => {
        throw err instanceof BundleRefused ? err : new BundleRefused(`blob sha256:${sha256} of the bundle is damaged or missing: ${err.message}`);
      });
      if (!existed) added.push(sha256);
      stored.set(sha256, blob);
      onProgress(stored.size, listed.size);
    }
    const records = manifest.records.map((record) => {
      const blob = stored.get(record.sha256);
      if (!blob) throw new BundleRefused(`record ${record.repo}/${record.path} refers to sha256:${record.sha256}, which the bundle does not list`);
      // Cached metadata is revalidated before it is served here: with the upstream unreachable it then lists
      // only what is present (offlineMetadata), with the upstream reachable it is brought up to date.
      const cache = record.cache && { ...record.cache, expiresAt: record.cache.expiresAt === null ? null : 0 };
      return { ...record, blob, ...(cache && { cache }) };
    });
    const { id, predecessor, createdAt, keyId } = manifest;
    await index.applyBundle({ id, predecessor, createdAt, keyId, source: origin, bytes: bundleBytes(manifest) }, records);
  } catch (err) {
    // Nothing was indexed: what this import added to the store is taken out again.
    for (const sha256 of added) await blobs.sweep(sha256, Number.MAX_SAFE_INTEGER, async () => (await index.blobReferences(sha256)) > 0);
    throw err;
  }
  return { manifest, imported: true, newBlobs: added.length };
}
