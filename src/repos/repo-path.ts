import { badRequest } from '../errors.js';

/**
 * Checks a path inside a repository (already percent-decoded, segments joined by "/").
 * Paths are index keys, never file-system paths, but a traversal attempt is still refused loudly.
 */
export function validateRepoPath(path: string): string {
  if (path.length === 0) throw badRequest('empty path');
  if (path.length > 1024) throw badRequest('path longer than 1024 characters');
  if (path.startsWith('/')) throw badRequest(`absolute path: ${path}`);
  if (/[\u0000-\u001f\u007f\\]/.test(path)) throw badRequest('path contains a control character or backslash');
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw badRequest(`path segment "${segment}" is not allowed: ${path}`);
    }
  }
  return path;
}

/**
 * Splits the raw (still percent-encoded) path of a URL into decoded segments. An encoded "/" inside a
 * segment stays inside it, so callers can tell `a%2Fb` from `a/b` (npm scopes need that; others refuse it).
 */
export function decodeSegments(rawPath: string): string[] {
  const segments = rawPath.split('/').filter((s, i) => i > 0 || s !== '');
  return segments.map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw badRequest(`malformed percent-encoding in "${segment}"`);
    }
  });
}

/** Joins decoded segments into a repo path, refusing segments that hide a "/" (an encoded slash). */
export function joinPlainSegments(segments: string[]): string {
  if (segments.some((s) => s.includes('/'))) throw badRequest('encoded slash (%2F) in a path segment');
  return validateRepoPath(segments.join('/'));
}
