import { PassThrough, pipeline, type Readable } from 'node:stream';
import { Agent, interceptors, type Dispatcher } from 'undici';
import type { RemoteRepoConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { firstValue } from '../header-values.js';
import { BearerTokenSource, parseBearerChallenge } from './bearer-token.js';
import { RateLimitBudget, type ResponseHeaders } from './rate-limit.js';
import { resolveSecret } from '../config/secrets.js';

export interface UpstreamResponse {
  status: number;
  headers: ResponseHeaders;
  body: Readable;
}

export interface UpstreamRequest {
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  /** A POST's body (requests passed through to the upstream, such as npm's audit). */
  body?: Buffer;
  /** The token scope this request needs, when the upstream uses token authentication. */
  authScope?: string;
}

export type UpstreamClientOptions = Pick<
  RemoteRepoConfig,
  'url' | 'auth' | 'connectTimeoutMs' | 'readTimeoutMs' | 'minBytesPerSecond' | 'fetchDeadlineSeconds'
> &
  Partial<Pick<RemoteRepoConfig, 'key' | 'unsetVariables'>>;

/** The window over which a body's rate is judged against `minBytesPerSecond`. */
const RATE_WINDOW_MS = 30_000;

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

/** The answer of a remote repository whose `url` names environment variables that are unset. */
export function notConfiguredError(key: string | undefined, variables: string[]): ShelfError {
  return new ShelfError(
    'NOT_CONFIGURED',
    503,
    `repository ${key ?? ''} is not configured: its url needs the environment variable ${variables.join(' or ')}; ` +
      `set it in Shelf's environment (/etc/shelf/shelf.env on the appliance) and restart Shelf`,
  );
}

/**
 * One upstream: a keep-alive connection pool, its credentials and its announced rate-limit budget. Whether it
 * answers is reported to `onHealth` after every exchange; the repository keeps the outage state.
 */
export class UpstreamClient {
  readonly baseUrl: URL;
  readonly budget = new RateLimitBudget();
  private readonly dispatcher: Dispatcher;
  private readonly authorization?: string;
  private readonly tokens: BearerTokenSource;
  /** Told after every exchange whether the upstream answered: false (with why) when unreachable or a 5xx. */
  onHealth: (healthy: boolean, reason?: string) => void = () => undefined;
  /** Told when a response announced something about the rate-limit budget (to share it). */
  onBudget: () => void = () => undefined;

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
    this.tokens = new BearerTokenSource(this.dispatcher, options.auth && 'username' in options.auth ? this.authorization : undefined);
  }

  /** A repository path as a relative URL path, each segment percent-encoded as it is. */
  encodePath(path: string): string {
    return path.split('/').map(encodeURIComponent).join('/');
  }

  /** Resolves an encoded relative path against the upstream URL. */
  urlFor(relativePath: string): URL {
    return new URL(relativePath, this.baseUrl);
  }

  /**
   * One request. When the upstream answers 401 with a Bearer challenge (Docker token authentication), a
   * token is fetched from its realm, cached for the scope, and the request is retried once with it.
   */
  async request(url: URL, request: UpstreamRequest = {}): Promise<UpstreamResponse> {
    if (this.options.unsetVariables) throw notConfiguredError(this.options.key, this.options.unsetVariables);
    const sameOrigin = url.origin === this.baseUrl.origin;
    const scope = request.authScope ?? '';
    const cachedToken = sameOrigin ? await this.tokens.cached(scope) : undefined;
    let response = await this.send(url, request, cachedToken ? `Bearer ${cachedToken}` : sameOrigin ? this.authorization : undefined);
    const challenge = response.status === 401 ? parseBearerChallenge(firstValue(response.headers['www-authenticate'])) : undefined;
    if (challenge && sameOrigin) {
      response.body.resume();
      const token = await this.tokens.fetch(challenge, scope);
      response = await this.send(url, request, `Bearer ${token}`);
    }
    return response;
  }

  /**
   * One exchange, with every wait bounded: the answer's headers (queueing for a connection included) within
   * connect + read timeouts, the whole exchange within `fetchDeadlineSeconds`, and the body at no less than
   * `minBytesPerSecond` over a 30 s window. Past any of them the exchange is aborted and its body fails.
   */
  private async send(url: URL, request: UpstreamRequest, authorization: string | undefined): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'user-agent': 'shelf', ...request.headers };
    if (authorization) headers.authorization = authorization;
    const abort = new AbortController();
    const fail = (message: string) => abort.abort(Object.assign(new Error(message), { code: 'UND_ERR_TIMEOUT' }));
    const headersDeadline = setTimeout(
      () => fail(`no answer within ${this.options.connectTimeoutMs + this.options.readTimeoutMs} ms`),
      this.options.connectTimeoutMs + this.options.readTimeoutMs,
    );
    const deadline = setTimeout(() => fail(`the exchange took longer than ${this.options.fetchDeadlineSeconds} s`), this.options.fetchDeadlineSeconds * 1000);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method ?? 'GET',
        headers,
        signal: abort.signal,
        ...(request.body && { body: request.body }),
      });
    } catch (err) {
      clearTimeout(deadline);
      const failure = new UpstreamUnreachableError(url.href, abort.signal.aborted ? (abort.signal.reason as Error) : (err as Error));
      this.onHealth(false, failure.message);
      throw failure;
    } finally {
      clearTimeout(headersDeadline);
    }
    if (this.budget.observe(response.statusCode, response.headers)) this.onBudget();
    if (response.statusCode >= 500) this.onHealth(false, `${url.origin} answered ${response.statusCode}`);
    else this.onHealth(true);
    const body = this.rateWatched(response.body, fail, () => clearTimeout(deadline));
    return { status: response.statusCode, headers: response.headers, body };
  }

  /**
   * The body, counted as it passes: one that trickles in below the minimum rate is aborted. `done` runs once
   * the body has ended, failed or been dropped.
   */
  private rateWatched(body: Readable, fail: (message: string) => void, done: () => void): Readable {
    const minimum = (this.options.minBytesPerSecond * RATE_WINDOW_MS) / 1000;
    let received = 0;
    const counter = new PassThrough();
    counter.on('data', (chunk: Buffer) => (received += chunk.length)).pause();
    const check = setInterval(() => {
      if (received < minimum) fail(`the body arrived at under ${this.options.minBytesPerSecond} bytes/s`);
      received = 0;
    }, RATE_WINDOW_MS);
    check.unref();
    pipeline(body, counter, () => {
      clearInterval(check);
      done();
    });
    return counter;
  }

  /** At shutdown, once clients are gone: exchanges still waiting on the upstream are cut, not awaited. */
  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}

export function authorizationHeader(auth: RemoteRepoConfig['auth']): string | undefined {
  if (!auth) return undefined;
  if ('token' in auth) return `Bearer ${resolveSecret(auth.token)}`;
  return `Basic ${Buffer.from(`${auth.username}:${resolveSecret(auth.password)}`).toString('base64')}`;
}
