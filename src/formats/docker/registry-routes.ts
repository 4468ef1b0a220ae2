/** What a request below /v2/ asks for; `name` is the image name as the client wrote it, split at "/". */
export type RegistryRoute =
  | { op: 'base' }
  | { op: 'catalog' }
  | { op: 'token' }
  | { op: 'tags'; name: string[] }
  | { op: 'manifest'; name: string[]; reference: string }
  | { op: 'blob'; name: string[]; digest: string }
  | { op: 'uploadStart'; name: string[] }
  | { op: 'upload'; name: string[]; id: string }
  | { op: 'referrers'; name: string[]; digest: string };

/**
 * Reads a /v2/ path from its end, as distribution's router does, because an image name may itself have
 * several components (`team/app/api/manifests/1.0`).
 */
export function parseRegistryRoute(segments: string[]): RegistryRoute | undefined {
  const s = segments.at(-1) === '' ? segments.slice(0, -1) : segments;
  const n = s.length;
  if (n === 0) return { op: 'base' };
  if (n === 1 && s[0] === '_catalog') return { op: 'catalog' };
  if (n === 1 && s[0] === 'token') return { op: 'token' };
  if (n >= 3 && s[n - 2] === 'tags' && s[n - 1] === 'list') return { op: 'tags', name: s.slice(0, -2) };
  if (n >= 3 && s[n - 2] === 'blobs' && s[n - 1] === 'uploads') return { op: 'uploadStart', name: s.slice(0, -2) };
  if (n >= 4 && s[n - 3] === 'blobs' && s[n - 2] === 'uploads') return { op: 'upload', name: s.slice(0, -3), id: s[n - 1]! };
  if (n >= 3 && s[n - 2] === 'manifests') return { op: 'manifest', name: s.slice(0, -2), reference: s[n - 1]! };
  if (n >= 3 && s[n - 2] === 'blobs') return { op: 'blob', name: s.slice(0, -2), digest: s[n - 1]! };
  if (n >= 3 && s[n - 2] === 'referrers') return { op: 'referrers', name: s.slice(0, -2), digest: s[n - 1]! };
  return undefined;
}
