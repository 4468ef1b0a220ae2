import type { BlobExpectation } from '../../storage/blob-store.js';

/** Digest sizes in bytes of the SRI algorithms a tarball can be checked against. */
const SRI_BYTES = { sha512: 64, sha256: 32, sha1: 20 } as const;

/**
 * What a tarball must hash to, from a packument's `dist`: its Subresource Integrity string
 * (`sha512-<base64>`, possibly several space-separated) and the legacy hex `shasum` (sha1).
 * Unknown algorithms and malformed entries are ignored, as npm does.
 */
export function expectationFromDist(dist: { integrity?: unknown; shasum?: unknown } | undefined): BlobExpectation {
  const expect: BlobExpectation = {};
  if (typeof dist?.integrity === 'string') {
    for (const entry of dist.integrity.trim().split(/\s+/)) {
      const match = /^(sha512|sha256|sha1)-([A-Za-z0-9+/]+={0,2})(?:\?.*)?$/.exec(entry);
      if (!match) continue;
      const algorithm = match[1] as keyof typeof SRI_BYTES;
      const digest = Buffer.from(match[2]!, 'base64');
      if (digest.length === SRI_BYTES[algorithm]) expect[algorithm] ??= digest.toString('hex');
    }
  }
  if (typeof dist?.shasum === 'string' && /^[0-9a-f]{40}$/i.test(dist.shasum)) expect.sha1 ??= dist.shasum.toLowerCase();
  return expect;
}

/** The `sha512-<base64>` integrity of a hex sha512 digest. */
export const integrityOf = (sha512Hex: string) => `sha512-${Buffer.from(sha512Hex, 'hex').toString('base64')}`;
