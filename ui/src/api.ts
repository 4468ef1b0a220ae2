/** Shelf's REST API as the pages use it: same-origin, JSON, the CSRF token on every change. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSignedOut: (() => void) | undefined;

/** Called when a signed-in page gets a 401: the session ended elsewhere (expired, signed out, password changed). */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

/** Set from the answer of `GET`/`POST /api/session`; cleared on sign-out. */
export function useCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export async function api<T>(path: string, options: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = options.method ?? 'GET';
  // X-Requested-With: Shelf then answers a 401 without the Basic challenge the browser would prompt for.
  const headers: Record<string, string> = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-shelf-csrf'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  if (res.status === 401 && csrfToken !== undefined) onSignedOut?.();
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

async function errorMessage(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { errors?: { message?: string }[] };
    return body.errors?.[0]?.message ?? res.statusText;
  } catch {
    return res.statusText;
  }
}

/** A path below a repository, with each segment encoded (names may hold `@`, `#`, spaces). */
export const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

export interface User {
  name: string;
  admin: boolean;
  groups: string[];
}

export interface Session {
  user: User | null;
  csrfToken?: string;
}

export interface UpstreamStatus {
  url: string;
  state: 'online' | 'assumed-offline' | 'rate-limited' | 'offline' | 'not-configured';
  assumedOfflineUntil?: string;
  reason?: string;
  rateLimit?: number;
  rateLimitRemaining?: number;
  blockedUntil?: string;
}

export interface RepositorySummary {
  key: string;
  type: 'LOCAL' | 'REMOTE' | 'VIRTUAL';
  packageType: 'docker' | 'npm' | 'pypi' | 'maven' | 'generic';
  description: string;
  url: string;
  filesCount?: number;
  usedSpace?: number;
  members?: string[];
  defaultDeployRepo?: string;
  cacheHitRatio?: number | null;
  upstream?: UpstreamStatus;
  configuration?: unknown;
}

export interface FolderInfo {
  repo: string;
  path: string;
  children: { uri: string; folder: boolean; size?: number; lastModified?: string }[];
  next?: string;
}

export interface FileInfo {
  repo: string;
  path: string;
  created: string;
  lastModified: string;
  downloadUri: string;
  mimeType: string;
  size: string;
  checksums: { sha256: string; sha1?: string; md5?: string };
  properties: Record<string, string[]>;
  stats: { downloadCount: number; lastDownloaded: string | null };
  cache?: { fetchedAt: string; expiresAt: string | null; upstreamEtag: string | null; upstreamLastModified: string | null };
}

export interface SearchResult {
  repo: string;
  path: string;
  size?: number;
  lastModified?: string;
}
