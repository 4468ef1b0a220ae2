import { z } from 'zod';

export const BUNDLE_FORMAT = 'shelf-bundle/1';
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.json.sig';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

const bundleRecord = z.strictObject({
  repo: z.string().min(1),
  path: z.string().min(1),
  sha256,
  contentType: z.string(),
  createdAt: z.number().int(),
  modifiedAt: z.number().int(),
  /** Remote repositories' cached files: their upstream validators and freshness. */
  cache: z
    .strictObject({
      fetchedAt: z.number().int(),
      expiresAt: z.number().int().nullable(),
      upstreamEtag: z.string().optional(),
      upstreamLastModified: z.string().optional(),
    })
    .optional(),
});

/**
 * What a bundle holds: index records of some repositories' paths and the blobs they refer to, each with
 * its sha256 and size. The manifest is what is signed; the blobs are checked against it.
 */
export const bundleManifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  id: z.uuid(),
  createdAt: z.number().int(),
  /** The bundle this one follows (incremental bundles); null for a full one. */
  predecessor: z.uuid().nullable(),
  /** The key the manifest is signed with (see keyId). */
  keyId: z.string(),
  repositories: z.array(z.strictObject({ key: z.string(), format: z.string(), type: z.string() })),
  records: z.array(bundleRecord),
  /**
   * The blobs, each with its size and digests: sha256 is what an import verifies; the others (what Maven
   * and npm clients check) are signed with it, so an import need not compute them again.
   */
  blobs: z.array(
    z.strictObject({
      sha256,
      size: z.number().int().nonnegative(),
      sha1: z.string().regex(/^[0-9a-f]{40}$/).optional(),
      md5: z.string().regex(/^[0-9a-f]{32}$/).optional(),
      sha512: z.string().regex(/^[0-9a-f]{128}$/).optional(),
    }),
  ),
});

export type BundleManifest = z.output<typeof bundleManifestSchema>;
export type BundleRecord = z.output<typeof bundleRecord>;

/** The bytes a bundle carries: its blobs' sizes together. */
export const bundleBytes = (manifest: Pick<BundleManifest, 'blobs'>) => manifest.blobs.reduce((sum, blob) => sum + blob.size, 0);

/** Where a blob lives inside a bundle directory. */
export const bundleBlobPath = (sha256: string) => `blobs/sha256/${sha256.slice(0, 2)}/${sha256}`;
