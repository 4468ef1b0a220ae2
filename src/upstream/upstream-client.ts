import type { Readable } from 'node:stream';
import { Agent, interceptors, type Dispatcher } from 'undici';
import type { RemoteRepoConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { RateLimitBudget, type ResponseHeaders } from './rate-limit.js';
import { resolveSecret } from './secrets.js';

export interface UpstreamResponse {
  status: number;
  headers: ResponseHeaders;
  body: Readable;
}

export interface UpstreamRequest {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
}

export type UpstreamClientOptions = Pick<
  RemoteRepoConfig,
  'url' | 'auth' | 'connectTimeoutMs' | 'readTimeoutMs' | 'assumedOfflineSeconds'
>;

/** Network-level failures, as opposed to an HTTP answer. */
export class UpstreamUnreachableError extends ShelfError {
  constructor(url: string, cause: Error) {
    const timedOut = /timeout/i.test((cause as { code?: string }).code ?? '') || /timeout/i.test(cause.message);
    super(
      timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNREACHABLE',
      timedOut ? 504 : 502,
      `upstream ${new URL(url).origin} ${timedOut ? 'timed out' : 'unreachable'}: ${cause.message}`,
    );
  }
}

/**
 * One upstream: a keep-alive connection pool, its credentials, its announced rate-limit budget, and whether
 * it is currently assumed offline (after a connection failure or 5xx, for `assumedOfflineSeconds`).
 */
export class UpstreamClient {
  readonly baseUrl: URL;
  readonly budget = new RateLimitBudget();
  private readonly dispatcher: Dispatcher;
  private readonly authorization?: string;
  private offlineUntil = 0;

  constructor(private readonly options: UpstreamClientOptions) {
    this.baseUrl = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.authorization = authorizationHeader(options.auth);
    this.dispatcher = new Agent({
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.readTimeoutMs,
      bodyTimeout: options.readTimeoutMs,
      keepAliveTimeout: 30_000,
      connections: 64,
    }).compose(interceptors.redirect({ maxRedirections: 5 }));
  }

  /** Resolves a repository path against the upstream URL, keeping the path's segments as they are. */
  urlFor(path: string): URL {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    return new URL(encoded, this.baseUrl);
  }

  /** Epoch ms until which the upstream is assumed offline; 0 when it is not. */
  get assumedOfflineUntil(): number {
    return this.offlineUntil > Date.now() ? this.offlineUntil : 0;
  }

  async request(url: URL, request: UpstreamRequest = {}): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'user-agent': 'shelf', ...request.headers };
    if (this.authorization && url.origin === this.baseUrl.origin) headers.authorization = this.authorization;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method ?? 'GET',
        headers,
      });
    } catch (err) {
      this.markOffline();
      throw new UpstreamUnreachableError(url.href, err as Error);
    }
    this.budget.observe(response.statusCode, response.headers);
    if (response.statusCode >= 500) this.markOffline();
    else this.offlineUntil = 0;
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private markOffline(): void {
    this.offlineUntil = Date.now() + this.options.assumedOfflineSeconds * 1000;
  }
}

function authorizationHeader(auth: RemoteRepoConfig['auth']): string | undefined {
  if (!auth) return undefined;
  if ('token' in auth) return `Bearer ${resolveSecret(auth.token)}`;
  return `Basic ${Buffer.from(`${auth.username}:${resolveSecret(auth.password)}`).toString('base64')}`;
}
