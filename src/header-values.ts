import { CHECKSUM_ALGORITHMS, isHexDigest, type ChecksumAlgorithm, type Checksums } from './storage/checksums.js';

/** A header as node:http and undici hand it over: absent, one value, or repeated. */
export type HeaderValue = string | string[] | undefined;
export type HeaderMap = Record<string, HeaderValue>;

export const firstValue = (value: HeaderValue) => (Array.isArray(value) ? value[0] : value);

/**
 * The `X-Checksum-Sha256/-Sha1/-Md5/-Sha512` headers that Artifactory-style clients and upstreams send:
 * well-formed values, and the algorithms whose value was not a hex digest of the right length.
 */
export function checksumHeaders(headers: HeaderMap): { declared: Partial<Checksums>; malformed: ChecksumAlgorithm[] } {
  const declared: Partial<Checksums> = {};
  const malformed: ChecksumAlgorithm[] = [];
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = firstValue(headers[`x-checksum-${alg}`])?.trim().toLowerCase();
    if (value === undefined) continue;
    if (isHexDigest(alg, value)) declared[alg] = value;
    else malformed.push(alg);
  }
  return { declared, malformed };
}
