import type { RemoteRepoConfig } from '../config/schema.js';
import { methodNotAllowed, notFound, ShelfError } from '../errors.js';
import { checksumHeaders, firstValue as first } from '../header-values.js';
import { createHash } from 'node:crypto';
import { CorruptBlobError, type StoredBlob } from '../storage/blob-store.js';
import type { ArtifactRecord, CacheState, ListOptions, UpstreamOutage } from '../storage/metadata-index.js';
import { notConfiguredError, type UpstreamClient, type UpstreamResponse } from '../upstream/upstream-client.js';
import { deserializeError, serializeError, type Flight, type FlightEvent, type StreamingEvent } from './flights.js';
import { readGrowingFile } from './growing-file-reader.js';
import { PathFilter } from './path-pattern.js';
import {
  SMALL_FILE_BYTES,
  storedArtifact,
  type Artifact,
  type FormatRules,
  type GetOptions,
  type RepoContext,
  type Repository,
  type UpstreamTarget,
} from './repository.js';


/** A remote repository's upstream as the API shows it (see RemoteRepo.upstreamStatus). */
export interface UpstreamStatus {
  url: string;
  state: 'online' | 'assumed-offline' | 'rate-limited' | 'offline' | 'not-configured';
  /** While assumed offline: until when (epoch ms), and the failure that made Shelf assume so. */
  assumedOfflineUntil?: number;
  reason?: string;
  /** The budget the upstream announced (RateLimit-Limit, RateLimit-Remaining), as this process last heard it. */
  rateLimit?: number;
  rateLimitRemaining?: number;
  /** While rate-limited: until when (epoch ms) Shelf does not ask it. */
  blockedUntil?: number;
}

/** A URL as it may be shown: without credentials written into it. */
function withoutUserInfo(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return url; // still naming an unset variable
  }
}

/** How often a worker re-reads the shared upstream state. */
const OUTAGE_READ_INTERVAL_MS = 1000;
/** How often a fetch checks whether anyone still waits for it. */
const ABANDON_CHECK_MS = 500;

/**
 * A caching proxy of one upstream. Fresh cache is served without asking upstream; a miss or an expired
 * entry is fetched once however many clients ask at the same time (single-flight), streamed to all of them
 * while it is written to the blob store, and committed only when complete and verified. When the upstream
 * fails, is offline or has no budget left, whatever is cached is served as STALE.
 */
export class RemoteRepo implements Repository {
  readonly type = 'remote';
  private readonly filter: PathFilter;
  /** The outage every worker agrees on (kept in the index), as last read, and when; the shared budget is read with it. */
  private knownOutage: { outage: UpstreamOutage | undefined; readAt: number } = { outage: undefined, readAt: 0 };
  /** While the upstream is assumed offline, one request of this process at a time asks it anyway. */
  private probing = false;

  constructor(
    readonly config: RemoteRepoConfig,
    private readonly rules: FormatRules,
    private readonly ctx: RepoContext,
    readonly upstream: UpstreamClient,
  ) {
    this.filter = new PathFilter(config.includes, config.excludes);
    upstream.onHealth = (healthy, reason) => {
      this.recordHealth(healthy, reason).catch((err: unknown) => ctx.log.warn({ err, repo: this.key }, 'could not record the upstream state'));
    };
    // What the upstream announces about its budget holds for every worker and node.
    upstream.onBudget = () => {
      ctx.index
        .setUpstreamBudget(this.key, upstream.budget.shared())
        .catch((err: unknown) => ctx.log.warn({ err, repo: this.key }, 'could not share the upstream rate-limit budget'));
    };
  }

  /** The 404 for something this repository does not have: when it is offline, saying so, since that is why. */
  static notFound(repo: Repository, what: string, where = `${what} in ${repo.key}`): ShelfError {
    if (repo instanceof RemoteRepo && repo.config.offline) {
      return new ShelfError('NOT_FOUND', 404, `${what} is not cached in ${repo.key}, which is offline (it never asks its upstream)`);
    }
    return notFound(where);
  }

  /** Whether the upstream is assumed offline now (after a failure, for assumedOfflineSeconds), as all workers see it. */
  async outage(): Promise<UpstreamOutage | undefined> {
    const now = Date.now();
    if (now - this.knownOutage.readAt > OUTAGE_READ_INTERVAL_MS) {
      const [outage, budget] = await Promise.all([this.ctx.index.getUpstreamOutage(this.key), this.ctx.index.getUpstreamBudget(this.key)]);
      this.knownOutage = { outage, readAt: now };
      if (budget) this.upstream.budget.adopt(budget);
    }
    const { outage } = this.knownOutage;
    return outage && outage.until > now ? outage : undefined;
  }

  /** The upstream as an operator sees it: reachable or why not, and its rate-limit budget as last announced to any process. */
  async upstreamStatus(): Promise<UpstreamStatus> {
    const outage = await this.outage();
    const budget = this.upstream.budget.snapshot();
    const state = this.config.unsetVariables
      ? 'not-configured'
      : this.config.offline
        ? 'offline'
        : outage
          ? 'assumed-offline'
          : budget.blockedUntil !== undefined
            ? 'rate-limited'
            : 'online';
    return {
      url: withoutUserInfo(this.config.url),
      state,
      ...(outage && { assumedOfflineUntil: outage.until, reason: outage.reason }),
      ...(budget.limit !== undefined && { rateLimit: budget.limit }),
      ...(budget.remaining !== undefined && { rateLimitRemaining: budget.remaining }),
      ...(budget.blockedUntil !== undefined && { blockedUntil: budget.blockedUntil }),
    };
  }

  private async recordHealth(healthy: boolean, reason = 'failed'): Promise<void> {
    if (healthy) {
      if (!(await this.outage())) return;
      this.knownOutage = { outage: undefined, readAt: Date.now() };
      await this.ctx.index.setUpstreamOutage(this.key, undefined);
      this.ctx.log.info({ repo: this.key }, 'upstream answers again');
      return;
    }
    if (this.config.assumedOfflineSeconds === 0) return;
    const outage = { until: Date.now() + this.config.assumedOfflineSeconds * 1000, reason };
    this.knownOutage = { outage, readAt: Date.now() };
    await this.ctx.index.setUpstreamOutage(this.key, outage);
  }

  get key() {
    return this.config.key;
  }

  get format() {
    return this.config.format;
  }

  async record(path: string): Promise<ArtifactRecord | undefined> {
    return this.ctx.index.getArtifact(this.key, path);
  }

  async list(options?: ListOptions): Promise<ArtifactRecord[]> {
    return this.ctx.index.listArtifacts(this.key, options);
  }

  /** Records cached content under a second path (a format's alias, e.g. a Docker tag's digest). */
  async link(path: string, blob: StoredBlob, contentType: string): Promise<ArtifactRecord> {
    await this.ctx.blobs.touch(blob.sha256);
    const result = await this.ctx.index.putArtifact(
      { repo: this.key, path, blob, contentType, cache: this.freshCacheState(path) },
      'always',
    );
    return (result as { stored: ArtifactRecord }).stored;
  }

  async put(): Promise<ArtifactRecord> {
    throw methodNotAllowed('PUT', ['GET', 'HEAD', 'DELETE']);
  }

  /** Removes a file from the cache (the upstream is not touched). */
  async delete(path: string): Promise<void> {
    if (!(await this.ctx.index.deleteArtifact(this.key, path))) throw notFound(`${this.key}/${path}`);
  }

  async get(path: string, options: GetOptions = {}): Promise<Artifact | undefined> {
    if (!this.filter.allows(path)) return undefined;
    const now = Date.now();
    let record = await this.ctx.index.getArtifact(this.key, path);
    if (record && !(await this.ctx.blobs.has(record.blob.sha256))) {
      // The cached bytes are gone (found damaged and quarantined, or lost): fetch them again, unconditionally.
      this.ctx.log.warn({ repo: this.key, path, sha256: record.blob.sha256 }, 'cached content is missing from the blob store; fetching it again');
      await this.ctx.index.deleteArtifact(this.key, path);
      record = undefined;
    }
    if (record && isFresh(record, now)) return this.repairing(storedArtifact(this.ctx.blobs, record, 'HIT'), options);
    if (!record) {
      const negativeUntil = await this.ctx.index.getNegative(this.key, path);
      if (negativeUntil !== undefined && negativeUntil > now) return undefined;
    }
    const outage = await this.outage();
    const unavailable = this.whyUnavailable(outage);
    if (unavailable) {
      if (record) return storedArtifact(this.ctx.blobs, record, 'STALE');
      if (this.config.offline) return undefined;
      throw this.notAvailableOffline(path, unavailable);
    }
    // A file not cached is not downloaded while the disk is low (an expired one is served as it is).
    if (!record) await this.ctx.blobs.ensureSpace();
    // Asked while the upstream is assumed offline: this request is the probe.
    const probe = outage !== undefined;
    if (probe) this.probing = true;
    const fetched = this.fetchShared(path, record, options);
    if (probe) void fetched.catch(() => undefined).finally(() => (this.probing = false));
    if (!record) return fetched.catch((err: unknown) => Promise.reject(this.notAvailableOffline(path, err)));
    // Stale-while-revalidate: a slow or hanging upstream delays a request for expired content by at most
    // revalidateWaitMs; the cached copy is served meanwhile, and the revalidation finishes for the next one.
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'waited'>((resolve) => (timer = setTimeout(() => resolve('waited'), this.config.revalidateWaitMs)));
    const first = await Promise.race([fetched, waited]).finally(() => clearTimeout(timer));
    if (first !== 'waited') return first;
    fetched.catch(() => undefined);
    return storedArtifact(this.ctx.blobs, record, 'STALE');
  }

  /**
   * A cached artifact whose damaged bytes, found when read whole before anything is sent, are fetched again
   * from the upstream (the damaged blob is quarantined by the read) and served if they hash as recorded.
   */
  private repairing(artifact: Artifact, options: GetOptions): Artifact {
    const { read } = artifact;
    const expected = artifact.checksums?.sha256;
    if (!read || !expected) return artifact;
    return {
      ...artifact,
      read: async (range) => {
        try {
          return await read(range);
        } catch (err) {
          if (!(err instanceof CorruptBlobError)) throw err;
          this.ctx.log.error({ repo: this.key, path: artifact.path, sha256: expected }, 'cached content was damaged; fetching it again');
          const again = await this.get(artifact.path, options);
          const bytes = again && (again.read ? await again.read() : Buffer.concat((await (await again.open()).toArray()) as Buffer[]));
          if (!bytes || createHash('sha256').update(bytes).digest('hex') !== expected) throw err;
          return range ? bytes.subarray(range.start, range.end + 1) : bytes;
        }
      },
    };
  }

  /**
   * Why the upstream must not be asked now, if it must not. While it is assumed offline one request at a
   * time probes it (an upstream that is back is noticed at once); the others are told why, and until when.
   */
  /**
   * A miss whose upstream cannot be reached (no connection, or assumed offline after one failed) is content
   * not available offline: a 404 that says why, as Nexus and Artifactory answer, rather than a gateway error
   * clients retry for minutes. An upstream that answered with an error stays a 502.
   */
  private notAvailableOffline(path: string, err: unknown): unknown {
    if (!(err instanceof ShelfError) || (err.code !== 'UPSTREAM_UNREACHABLE' && err.code !== 'UPSTREAM_UNAVAILABLE')) return err;
    return new ShelfError('NOT_AVAILABLE_OFFLINE', 404, `${path} is not available offline: it is not cached in ${this.key}, and its upstream cannot be reached (${err.message})`);
  }

  private whyUnavailable(outage: UpstreamOutage | undefined): ShelfError | undefined {
    if (this.config.unsetVariables) return notConfiguredError(this.key, this.config.unsetVariables);
    if (this.config.offline) return new ShelfError('OFFLINE', 404, `repository ${this.key} is offline`);
    const retryAfter = this.upstream.budget.retryAfterSeconds();
    if (retryAfter !== undefined) {
      return new ShelfError('TOOMANYREQUESTS', 429, `upstream rate limit of ${this.key} is spent`, {
        'retry-after': String(retryAfter),
      });
    }
    if (outage && this.probing) {
      const until = new Date(outage.until).toISOString();
      return new ShelfError(
        'UPSTREAM_UNAVAILABLE',
        503,
        `upstream of ${this.key} is assumed offline until ${until} after a failure (${outage.reason}); a request is checking whether it is back`,
        { 'retry-after': String(Math.max(1, Math.ceil((outage.until - Date.now()) / 1000))) },
      );
    }
    return undefined;
  }

  private async fetchShared(
    path: string,
    record: ArtifactRecord | undefined,
    options: GetOptions,
  ): Promise<Artifact | undefined> {
    const flightKey = `${this.key}\u0000${path}`;
    const { leader, flight } = await this.ctx.flights.join(flightKey);
    if (leader) void this.lead(flightKey, path, record, options, flight);
    let head: FlightEvent;
    flight.waiting++;
    try {
      head = await flight.head;
      // A small file is answered once it is verified and stored: a body that fails its checks then becomes a
      // 502 with the reason, not a 200 whose body breaks off. Large ones stream to the client as they arrive.
      if (head.type === 'streaming' && head.size !== undefined && head.size <= SMALL_FILE_BYTES) head = await flight.end;
    } finally {
      flight.waiting--;
    }
    switch (head.type) {
      case 'streaming':
        return this.streamingArtifact(path, head, flight, options);
      case 'notFound':
        return undefined;
      case 'failed':
        if (record) return storedArtifact(this.ctx.blobs, record, 'STALE');
        throw deserializeError(head.error);
      default: {
        const fresh = await this.ctx.index.getArtifact(this.key, path);
        return fresh && storedArtifact(this.ctx.blobs, fresh, head.type === 'settled' ? 'REVALIDATED' : 'MISS');
      }
    }
  }

  private streamingArtifact(path: string, head: StreamingEvent, flight: Flight, options: GetOptions): Artifact {
    const { sha256, sha1, md5 } = options.expect ?? {};
    const expected = { ...(sha256 && { sha256 }), ...(sha1 && { sha1 }), ...(md5 && { md5 }) };
    return {
      repo: this.key,
      path,
      contentType: head.contentType,
      ...(head.size !== undefined && { size: head.size }),
      ...(Object.keys(expected).length > 0 && { expectedChecksums: expected }),
      cacheStatus: 'MISS',
      open: async (range) => {
        const stream = readGrowingFile(head.tempPath, flight, range, (sha256, r) => this.ctx.blobs.open(sha256, r));
        flight.waiting++;
        stream.once('close', () => flight.waiting--);
        return stream;
      },
    };
  }

  /**
   * Whether a flight that ended between this request's index lookup and its own flight stored the file
   * (fresh, with its blob): then nobody needs to ask the upstream again.
   */
  private async storedMeanwhile(path: string): Promise<boolean> {
    const stored = await this.ctx.index.getArtifact(this.key, path);
    return stored !== undefined && isFresh(stored, Date.now()) && (await this.ctx.blobs.has(stored.blob.sha256));
  }

  /** The leader's fetch: publishes exactly one end event whatever happens. */
  private async lead(
    flightKey: string,
    path: string,
    record: ArtifactRecord | undefined,
    options: GetOptions,
    flight: Flight,
  ): Promise<void> {
    const publish = this.ctx.flights.publish.bind(this.ctx.flights, flightKey);
    try {
      if (!record && (await this.storedMeanwhile(path))) {
        publish({ type: 'settled' });
        return;
      }
      const target = options.upstream ?? this.rules.upstreamTarget?.(path) ?? { path: this.upstream.encodePath(path) };
      const digestHeader = this.rules.digestHeader?.(path);
      if (record && digestHeader && (await this.unchangedByHead(path, target, digestHeader, record))) {
        publish({ type: 'settled' });
        return;
      }
      const response = await this.ask(target, 'GET', digestHeader ? {} : conditionalHeaders(record));
      if (response.status === 304 && record) {
        response.body.resume();
        await this.ctx.index.updateCacheState(this.key, path, this.freshCacheState(path));
        publish({ type: 'settled' });
      } else if (response.status === 404 || response.status === 410) {
        response.body.resume();
        await this.ctx.index.putNegative(this.key, path, Date.now() + this.config.negativeCacheTtlSeconds * 1000);
        if (record) await this.ctx.index.deleteArtifact(this.key, path);
        publish({ type: 'notFound' });
      } else if (response.status === 200) {
        await this.store(path, response, options, publish, flight);
      } else {
        response.body.resume();
        throw upstreamStatusError(this.key, response);
      }
    } catch (err) {
      const code = err instanceof ShelfError ? err.code : 'UPSTREAM_ERROR';
      this.ctx.upstreamObserver.failure(this.key, code);
      if (code === 'DIGEST_MISMATCH' || code === 'SIZE_MISMATCH') {
        this.ctx.log.error({ repo: this.key, path, err: (err as Error).message }, 'the upstream sent content that fails its checks; nothing was cached');
      } else {
        this.ctx.log.warn({ repo: this.key, path, err: (err as Error).message }, 'upstream fetch failed');
      }
      publish({ type: 'failed', error: serializeError(err) });
    }
  }

  private async ask(target: UpstreamTarget, method: 'GET' | 'HEAD', headers: Record<string, string>) {
    const observer = this.ctx.upstreamObserver;
    const response = await this.upstream
      .request(this.upstream.urlFor(target.path), {
        method,
        headers: { ...target.headers, ...headers },
        ...(target.authScope && { authScope: target.authScope }),
      })
      .catch((err: unknown) => {
        observer.response(this.key, 'error');
        throw err;
      });
    observer.response(this.key, String(response.status));
    return response;
  }

  /**
   * Revalidation by HEAD for upstreams that name the content's digest in a header: a HEAD is cheap (Docker
   * Hub does not count it as a pull), and only a changed digest costs a GET.
   */
  private async unchangedByHead(
    path: string,
    target: UpstreamTarget,
    digestHeader: string,
    record: ArtifactRecord,
  ): Promise<boolean> {
    const response = await this.ask(target, 'HEAD', {});
    response.body.resume();
    const digest = first(response.headers[digestHeader]);
    if (response.status !== 200 || digest !== `sha256:${record.blob.sha256}`) return false;
    await this.ctx.index.updateCacheState(this.key, path, this.freshCacheState(path));
    return true;
  }

  private async store(
    path: string,
    response: UpstreamResponse,
    options: GetOptions,
    publish: (event: StreamingEvent | { type: 'stored'; sha256: string; size: number }) => void,
    flight: Flight,
  ): Promise<void> {
    const lengthHeader = first(response.headers['content-length']);
    const size = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const contentType = first(response.headers['content-type']) ?? this.rules.defaultContentType(path);
    const writer = await this.ctx.blobs.createWriter({
      // A malformed checksum header from upstream is ignored; well-formed ones must match.
      expect: {
        ...checksumHeaders(response.headers).declared,
        ...this.declaredDigest(path, response),
        ...options.expect,
        ...(size !== undefined && { size }),
      },
      otherDigestsLater: this.rules.otherDigestsLater === true && this.ctx.deferredDigests !== undefined,
    });
    publish({ type: 'streaming', tempPath: writer.tempPath, contentType, ...(size !== undefined && { size }) });
    const abandon = this.abandonWhenNobodyWaits(flight, () =>
      response.body.destroy(new ShelfError('FETCH_ABANDONED', 502, `nobody waits for ${this.key}/${path} any more; its fetch was stopped`)),
    );
    try {
      for await (const chunk of response.body) {
        await writer.append(chunk as Buffer);
        this.ctx.upstreamObserver.bytes(this.key, (chunk as Buffer).length);
      }
    } catch (err) {
      await writer.abort();
      if (err instanceof ShelfError) throw upstreamFault(this.key, path, err);
      throw new ShelfError('UPSTREAM_ERROR', 502, `upstream body of ${this.key}/${path} broke off: ${(err as Error).message}`);
    } finally {
      clearInterval(abandon);
    }
    const blob = await writer.commit().catch((err: unknown) => {
      throw err instanceof ShelfError ? upstreamFault(this.key, path, err) : err;
    });
    const etag = first(response.headers.etag);
    const lastModified = first(response.headers['last-modified']);
    await this.ctx.index.putArtifact(
      {
        repo: this.key,
        path,
        blob,
        contentType,
        cache: {
          ...this.freshCacheState(path),
          ...(etag && { upstreamEtag: etag }),
          ...(lastModified && { upstreamLastModified: lastModified }),
        },
      },
      'always',
    );
    if (blob.sha1 === undefined) this.ctx.deferredDigests?.add(blob.sha256);
    publish({ type: 'stored', sha256: blob.sha256, size: blob.size });
    this.ctx.cacheGrew?.();
  }

  /**
   * Stops a fetch once no request has waited for it for `abandonedFetchSeconds`: every client left, so the
   * upstream's bandwidth (and a connection of its pool) is not spent on a file nobody may ask for again.
   * A flight followed from another worker is never abandoned here; its readers are not counted here.
   */
  private abandonWhenNobodyWaits(flight: Flight, abort: () => void): NodeJS.Timeout {
    let idleSince: number | undefined;
    const check = setInterval(() => {
      if (flight.waiting > 0 || flight.shared) {
        idleSince = undefined;
        return;
      }
      idleSince ??= Date.now();
      if (Date.now() - idleSince >= this.config.abandonedFetchSeconds * 1000) abort();
    }, ABANDON_CHECK_MS);
    check.unref();
    return check;
  }

  /** The digest the upstream names in the format's digest header, when it is a well-formed sha256. */
  private declaredDigest(path: string, response: UpstreamResponse): { sha256?: string } {
    const header = this.rules.digestHeader?.(path);
    const value = header && first(response.headers[header]);
    const match = value && /^sha256:([0-9a-f]{64})$/.exec(value);
    return match ? { sha256: match[1]! } : {};
  }

  /** The cache state of content just fetched or confirmed upstream. */
  private freshCacheState(path: string): CacheState {
    return { fetchedAt: Date.now(), expiresAt: this.expiresAt(path) };
  }

  private expiresAt(path: string): number | null {
    const seconds = this.rules.freshForSeconds(path);
    return seconds === null ? null : Date.now() + seconds * 1000;
  }
}

/** Immutable content (no expiry) is always fresh; mutable content until its `expiresAt`. */
function isFresh(record: ArtifactRecord, now: number): boolean {
  const expiresAt = record.cache?.expiresAt ?? null;
  return expiresAt === null || expiresAt > now;
}

function conditionalHeaders(record: ArtifactRecord | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (record?.cache?.upstreamEtag) headers['if-none-match'] = record.cache.upstreamEtag;
  if (record?.cache?.upstreamLastModified) headers['if-modified-since'] = record.cache.upstreamLastModified;
  return headers;
}

/** Content from the upstream that fails its checks is the upstream's fault: a 502, saying what failed. */
function upstreamFault(repo: string, path: string, err: ShelfError): ShelfError {
  if (err.status >= 500) return err;
  return new ShelfError(err.code, 502, `the upstream of ${repo} sent ${path} wrong: ${err.message}`);
}

function upstreamStatusError(repo: string, response: UpstreamResponse): ShelfError {
  if (response.status === 429) {
    const retryAfter = first(response.headers['retry-after']);
    return new ShelfError('TOOMANYREQUESTS', 429, `upstream of ${repo} is rate limiting`, {
      ...(retryAfter && { 'retry-after': retryAfter }),
    });
  }
  if (response.status === 401 || response.status === 403) {
    return new ShelfError('UPSTREAM_DENIED', 502, `upstream of ${repo} refused access (${response.status})`);
  }
  return new ShelfError('UPSTREAM_ERROR', 502, `upstream of ${repo} answered ${response.status}`);
}
