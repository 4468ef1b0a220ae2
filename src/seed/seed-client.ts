import { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { messageOfErrorBody } from '../errors.js';

/** How long one request to Shelf may take in all (a cold multi-GiB layer comes through the upstream first). */
const REQUEST_DEADLINE_MS = 60 * 60 * 1000;
/** Waiting for Shelf to start answering (it may be fetching a large file from its upstream first). */
const HEADERS_TIMEOUT_MS = 10 * 60 * 1000;
/** Documents (packuments, manifests, project pages) are read whole; nothing real is near this. */
const MAX_DOCUMENT_BYTES = 512 * 1024 * 1024;

export interface SeedCredentials {
  username: string;
  /** A password or an API token. */
  secret: string;
}

export interface Fetched {
  /** The URL that answered (after the path was resolved against Shelf's base). */
  url: URL;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request Shelf refused or could not answer: its status and Shelf's own message. */
export class SeedRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Shelf as `shelf seed` sees it: a client of its HTTP API, like every build, so seeding pulls through the
 * same single-flight, verification and permissions. Credentials go as Basic (a password or an API token
 * as the password); registry paths get their bearer token from Shelf's token service when challenged.
 */
export class SeedClient {
  private readonly agent: Dispatcher = new Agent({ headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: HEADERS_TIMEOUT_MS, connections: 16 });
  private readonly bearer = new Map<string, string>();

  constructor(
    readonly baseUrl: URL,
    readonly credentials?: SeedCredentials,
  ) {}

  /** A path from Shelf's root (`/npm-remote/lodash`) or an absolute URL Shelf gave out. */
  resolve(pathOrUrl: string): URL {
    return new URL(pathOrUrl.replace(/^\//, ''), this.baseUrl.href.endsWith('/') ? this.baseUrl : `${this.baseUrl.href}/`);
  }

  /** A document, read whole. */
  async document(pathOrUrl: string, accept?: string): Promise<Fetched> {
    const { url, headers, body } = await this.send(pathOrUrl, accept);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_DOCUMENT_BYTES) {
        body.destroy();
        throw new Error(`${url.pathname} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    return { url, headers, body: Buffer.concat(chunks) };
  }

  /** A file, read to the end and dropped (Shelf keeps it); `onBytes` sees it arrive. Returns its size. */
  async download(pathOrUrl: string, onBytes: (count: number) => void, accept?: string): Promise<number> {
    const { body } = await this.send(pathOrUrl, accept);
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      onBytes(chunk.length);
    }
    return size;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(pathOrUrl: string, accept?: string): Promise<{ url: URL; headers: Fetched['headers']; body: Readable }> {
    const url = this.resolve(pathOrUrl);
    if (url.origin !== this.baseUrl.origin) throw new Error(`${url.href} is not on ${this.baseUrl.origin}; seeding goes through Shelf only`);
    // Registry tokens are per image: `/v2/<repo>/<image>` of `…/manifests/<ref>`, `…/blobs/<digest>`.
    const image = url.pathname.split('/').slice(0, -2).join('/');
    let bearer = this.bearer.get(image);
    for (let attempt = 0; ; attempt++) {
      const response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { ...(accept && { accept }), ...this.authorization(bearer) },
        signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
      });
      const challenge = String(response.headers['www-authenticate'] ?? '');
      if (response.statusCode === 401 && attempt === 0 && /^bearer /i.test(challenge)) {
        await response.body.dump();
        bearer = await this.registryToken(challenge);
        this.bearer.set(image, bearer);
        continue;
      }
      if (response.statusCode >= 200 && response.statusCode < 300) return { url, headers: response.headers, body: response.body };
      throw new SeedRequestError(response.statusCode, `${url.pathname}: ${response.statusCode} ${messageOfErrorBody(await response.body.text().catch(() => ''))}`);
    }
  }

  private authorization(bearer: string | undefined): Record<string, string> {
    if (bearer) return { authorization: `Bearer ${bearer}` };
    if (!this.credentials) return {};
    return { authorization: `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.secret}`).toString('base64')}` };
  }

  /** Docker's token dance, against Shelf's own token service (with the seed's credentials, or none). */
  private async registryToken(challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) throw new Error(`Shelf's registry challenge names no token service: ${challenge}`);
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    if (params.scope) realm.searchParams.set('scope', params.scope);
    const response = await this.agent.request({
      origin: realm.origin,
      path: `${realm.pathname}${realm.search}`,
      method: 'GET',
      headers: this.authorization(undefined),
      signal: AbortSignal.timeout(HEADERS_TIMEOUT_MS),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new SeedRequestError(response.statusCode, `token service: ${response.statusCode} ${messageOfErrorBody(text)}`);
    const { token } = JSON.parse(text) as { token?: string };
    if (!token) throw new Error('the token service answered without a token');
    return token;
  }
}
