import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { RestApi } from './api/rest-api.js';
import { SecurityApi } from './api/security-api.js';
import { SystemApi } from './api/system-api.js';
import { ReplicationApi } from './api/replication-api.js';
import type { ReplicationOutcome } from './replication/replication.js';
import { importUploaded, type ImportSummary } from './bundles/import-job.js';
import { runInJobThread } from './lifecycle/job-thread.js';
import { collectGarbage } from './lifecycle/gc.js';
import { CacheEviction } from './lifecycle/eviction.js';
import { applyRetention } from './lifecycle/retention.js';
import { SecurityAdministration } from './security/administration.js';
import type { ShelfConfig } from './config/schema.js';
import { unconfiguredRepositories } from './config/load.js';
import { SHELF_VERSION } from './version.js';
import { asClientError, notFound, ShelfError } from './errors.js';
import { allFormatModules, formatModule } from './formats/index.js';
import type { FormatServices, SegmentHandler } from './formats/format-module.js';
import { createRequestContext, type RequestContext } from './http/request-context.js';
import { dropUnreadBody, sendError, sendJson, sendText } from './http/respond.js';
import { ShelfMetrics } from './observability/metrics.js';
import { DownloadStats } from './repos/download-stats.js';
import { TrafficHistory } from './observability/traffic-history.js';
import type { FlightCoordinator } from './repos/flights.js';
import { decodeSegments } from './repos/repo-path.js';
import { RemoteRepo } from './repos/remote-repo.js';
import { RepositoryRegistry } from './repos/repository-registry.js';
import type { Repository } from './repos/repository.js';
import { BlobStore, tempDirOf, tempOwner, type BlobStoreOptions, type OtherDigestsElsewhere } from './storage/blob-store.js';
import { S3BlobPlace } from './storage/s3-blob-place.js';
import { DiskGuard, type DiskSpace } from './storage/disk-guard.js';
import type { IdentityStore } from './storage/identity-store.js';
import type { MetadataIndex } from './storage/metadata-index.js';
import { AccessControl } from './security/access-control.js';
import { AuditLog } from './security/audit-log.js';
import { Identity } from './security/identity.js';
import { PasswordChecks } from './security/password-checks.js';
import { JwtSigner, loadOrCreateSigningKey } from './security/jwt.js';
import { UiSessions } from './security/ui-sessions.js';
import { UiAssets } from './server/ui-assets.js';
import { SqliteIndex } from './storage/sqlite-index.js';
import { PostgresIndex, type PostgresIndexOptions } from './storage/postgres-index.js';
import { resolveSecret } from './config/secrets.js';
import { NodeHeartbeat, nodeIdOf } from './cluster/node-heartbeat.js';
import { ClusterFlightCoordinator } from './cluster/cluster-flights.js';
import { UploadSessions } from './storage/upload-sessions.js';
import { WorkerPool } from './workers/pool.js';
import { ThreadedDigests } from './workers/threaded-digests.js';
import { DeferredDigests } from './storage/deferred-digests.js';
import { JobLease } from './lifecycle/lease.js';

export interface ShelfAppOptions {
  config: ShelfConfig;
  flights: FlightCoordinator;
  log: Logger;
  /** The metrics text to expose; in a cluster, the primary's aggregate of all workers. */
  metricsText?: (local: ShelfMetrics) => Promise<string>;
}

/** Where a data directory keeps what. */
export function storagePaths(config: ShelfConfig) {
  const dataDir = resolve(config.storage.dataDir);
  return {
    dataDir,
    blobs: join(dataDir, 'blobs'),
    uploads: join(dataDir, 'blobs', 'uploads'),
    index: join(dataDir, 'index.sqlite'),
    signingKey: config.security.signingKeyFile ?? join(dataDir, 'security', 'jwt.key'),
    bundleSigningKey: config.bundles.signingKeyFile ?? join(dataDir, 'security', 'bundle-signing.key'),
    // Nodes sharing a data directory each append to a file of their own (appends from several hosts interleave).
    auditLog: config.security.auditLog ?? join(dataDir, 'logs', config.storage.index.type === 'postgres' ? `audit-${nodeIdOf(config)}.log` : 'audit.log'),
    /** Bundles received over HTTP, while they are imported. */
    imports: join(dataDir, 'imports'),
  };
}

/** Opens storage once for a process (the primary before forking, or a single-process server). */
/** The metadata index and, in the same database, users and tokens. */
export type ShelfIndex = MetadataIndex & IdentityStore;

export async function openStorage(
  config: ShelfConfig,
  onDiskSpaceChange?: (space: DiskSpace) => void,
  otherDigests?: OtherDigestsElsewhere,
): Promise<{ blobs: BlobStore; index: ShelfIndex; disk: DiskGuard }> {
  const paths = storagePaths(config);
  await mkdir(paths.dataDir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    // Under systemd (INVOCATION_ID set) the likely cause is the sandbox, which a bare ENOENT or EROFS would not say.
    const hint = process.env.INVOCATION_ID
      ? '; the service may write only where its unit allows and its user may reach: run `shelf service configure` as root, then restart'
      : '';
    throw new Error(`storage.dataDir ${paths.dataDir} cannot be created (${err.code ?? err.message})${hint}`);
  });
  const disk = new DiskGuard(paths.dataDir, config.storage.minFreeBytes, onDiskSpaceChange);
  const blobs = openBlobStore(config, disk, {
    memoryCacheBytes: config.storage.memoryCacheBytes,
    trustVerifiedSeconds: config.storage.trustVerifiedSeconds,
    ...(otherDigests && { otherDigests }),
  });
  await blobs.init();
  return { blobs, index: await openIndex(config), disk };
}

/** The blob store the config names: files in the data directory, or an S3 bucket (temp files in the data directory either way). */
export function openBlobStore(config: ShelfConfig, disk?: DiskGuard, options: BlobStoreOptions = {}): BlobStore {
  const root = storagePaths(config).blobs;
  const settings = config.storage.blobs;
  if (settings.type === 'filesystem') return BlobStore.onDisk(root, disk, options);
  const { accessKeyId, secretAccessKey } = settings;
  const place = new S3BlobPlace({
    bucket: settings.bucket,
    prefix: settings.prefix,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint && { endpoint: settings.endpoint }),
    ...(accessKeyId &&
      secretAccessKey && {
        credentials: { accessKeyId: typeof accessKeyId === 'string' ? accessKeyId : resolveSecret(accessKeyId), secretAccessKey: resolveSecret(secretAccessKey) },
      }),
    requestTimeoutMs: settings.requestTimeoutSeconds * 1000,
    partBytes: settings.partSize,
    tempDir: tempDirOf(root),
  });
  return new BlobStore(root, place, disk, options);
}

/** The metadata index the config names: the SQLite file in the data directory, or a PostgreSQL database. */
export async function openIndex(config: ShelfConfig): Promise<ShelfIndex> {
  const postgres = postgresSettings(config);
  return postgres ? PostgresIndex.open(postgres) : new SqliteIndex(storagePaths(config).index);
}

/** How to reach the PostgreSQL index, when the config names one (the connection string read from its secret). */
export function postgresSettings(config: ShelfConfig): PostgresIndexOptions | undefined {
  const settings = config.storage.index;
  if (settings.type !== 'postgres') return undefined;
  return {
    url: typeof settings.url === 'string' ? settings.url : resolveSecret(settings.url),
    poolSize: settings.poolSize,
    connectTimeoutMs: settings.connectTimeoutSeconds * 1000,
    statementTimeoutMs: settings.statementTimeoutSeconds * 1000,
  };
}

/** Everything one serving process needs: storage, repositories, metrics, and the request handler. */
export class ShelfApp {
  readonly metrics: ShelfMetrics;
  readonly repos: RepositoryRegistry;
  private readonly downloads: DownloadStats;
  private readonly traffic: TrafficHistory;
  private readonly api: RestApi;
  private readonly services: FormatServices;
  private readonly workers = new WorkerPool();
  private readonly passwordChecks: PasswordChecks;
  /** Protocol endpoints at the root (`/v2/`) and below `/api/<format>/`, from the formats that have them. */
  private readonly rootRoutes = new Map<string, SegmentHandler>();
  private readonly formatApis = new Map<string, SegmentHandler>();
  private readonly uploadSweep: NodeJS.Timeout;
  /**
   * For request lines, which hold only the fields logRequest picks (a path that names a secret is already
   * masked): without the logger's redaction, which costs more than the rest of the line.
   */
  private readonly requestLog: Logger;
  private readonly deferredDigests: DeferredDigests;
  private readonly heartbeat: NodeHeartbeat;

  private constructor(
    private readonly options: ShelfAppOptions,
    readonly blobs: BlobStore,
    readonly index: ShelfIndex,
    private readonly disk: DiskGuard,
    signingKey: Buffer,
    /** Threads that compute large writes' other digests (see ThreadedDigests). */
    private readonly digestThreads: WorkerPool,
    private readonly ui: UiAssets,
  ) {
    const { config, log } = options;
    // Nodes sharing an index share their fetches too.
    const flights = config.storage.index.type === 'postgres' ? new ClusterFlightCoordinator(options.flights, index, log) : options.flights;
    this.requestLog = log.child({}, { redact: [] });
    const eviction = new CacheEviction({ blobs, index, config, log });
    this.deferredDigests = new DeferredDigests(blobs, index, digestThreads, log);
    this.metrics = new ShelfMetrics({
      storageBytes: () => index.storageBytes(),
      upstreamBudgets: () => this.upstreamBudgets(),
      uploads: () => this.services.uploads.stats(),
      disk: () => disk.space(),
      repositories: () => index.repositoryUsage(),
      replication: () => index.replicationStates(),
    });
    const metrics = this.metrics;
    this.passwordChecks = new PasswordChecks((outcome) => metrics.passwordChecks.inc({ outcome }));
    this.repos = new RepositoryRegistry(config.repositories, (repo) => formatModule(repo.format).rules(repo), {
      blobs,
      index,
      flights,
      log,
      upstreamObserver: {
        response: (repo, outcome) => metrics.upstreamRequests.inc({ repo, outcome }),
        bytes: (repo, count) => metrics.bytesFetched.inc({ repo }, count),
        failure: (repo, code) => metrics.upstreamFailures.inc({ repo, code }),
      },
      cacheGrew: () => eviction.cacheGrew(),
      deferredDigests: this.deferredDigests,
    });
    this.heartbeat = new NodeHeartbeat(index, config, log);
    this.downloads = new DownloadStats(index);
    this.traffic = new TrafficHistory(index);
    const uploads = new UploadSessions(storagePaths(config).uploads, blobs, this.workers, {
      expirySeconds: config.storage.uploadExpirySeconds,
      maxPerUser: config.storage.maxUploadSessionsPerUser,
    });
    const identity = new Identity(index, this.passwordChecks.verify, this.passwordChecks.hash);
    const audit = new AuditLog(storagePaths(config).auditLog);
    const sessions = new UiSessions(index, identity, signingKey, config.security.sessionTtlSeconds);
    const access = new AccessControl(config.security, index, identity, new JwtSigner(signingKey), audit, sessions, config.server.mode === 'edge');
    const administration = new SecurityAdministration(index, identity, audit, config);
    const jobs = {
      gc: (dryRun: boolean) => collectGarbage({ blobs, index, config, log }, { dryRun }),
      retention: (dryRun: boolean) => applyRetention({ repos: this.repos, index, audit, log }, { dryRun }),
      importBundle: (path: string, origin?: string) => runInJobThread<ImportSummary>(config, { kind: 'import', path, ...(origin && { origin }) }),
      importedBundles: () => index.importedBundles(),
      importUpload: async (archive: AsyncIterable<Buffer>) => {
        await blobs.ensureSpace();
        return importUploaded(config, archive);
      },
    };
    const replication = new ReplicationApi(
      config,
      index,
      access,
      (name) => runInJobThread<ReplicationOutcome>(config, { kind: 'replicate', name }),
      (job) => runInJobThread<{ id: string } | undefined>(config, { kind: 'export', ...job }),
    );
    this.api = new RestApi(this.repos, index, access, new SecurityApi(access, administration), new SystemApi(access, jobs, config.server.maxUploadBytes, this.traffic, this.heartbeat), disk, replication);
    this.services = {
      config,
      downloads: this.downloads,
      repos: this.repos,
      uploads,
      workers: this.workers,
      access,
    };
    for (const module of allFormatModules()) {
      for (const [prefix, handler] of Object.entries(module.rootRoutes ?? {})) this.rootRoutes.set(prefix, handler);
      if (module.api) this.formatApis.set(module.name, module.api);
    }
    const sweepSeconds = Math.min(3600, Math.max(1, config.storage.uploadExpirySeconds / 4));
    this.uploadSweep = setInterval(() => void this.removeAbandonedUploads(), sweepSeconds * 1000).unref();
  }

  static async create(options: ShelfAppOptions): Promise<ShelfApp> {
    // A thread follows each large write (see ThreadedDigests); mostly it sleeps until the writer writes.
    const digestThreads = new WorkerPool(2 * availableParallelism());
    const onDiskSpaceChange = (space: DiskSpace) => {
      if (space.low) options.log.warn(space, 'the data disk is low on space: nothing new is stored until space is freed');
      else options.log.info(space, 'the data disk has room again: writes are accepted');
    };
    const { blobs, index, disk } = await openStorage(options.config, onDiskSpaceChange, new ThreadedDigests(digestThreads)).catch(async (err: unknown) => {
      await digestThreads.close();
      throw err;
    });
    let app: ShelfApp;
    try {
      const signingKey = await loadOrCreateSigningKey(storagePaths(options.config).signingKey);
      app = new ShelfApp(options, blobs, index, disk, signingKey, digestThreads, await UiAssets.load());
    } catch (err) {
      // A start that fails leaves nothing open (a PostgreSQL pool would keep the process alive).
      await index.close();
      await digestThreads.close();
      throw err;
    }
    await app.services.uploads.init();
    await app.removeAbandonedUploads();
    void app.resumeDeferredDigests();
    return app;
  }

  /** One process (whichever takes the lease) computes the digests a stopped process left to compute. */
  private async resumeDeferredDigests(): Promise<void> {
    const lease = await JobLease.take(this.index, 'deferred-digests').catch(() => undefined);
    if (!lease) return;
    try {
      await this.deferredDigests.resume();
    } catch (err) {
      this.options.log.warn({ err }, 'could not resume computing deferred digests');
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  private upstreamBudgets(): Map<string, number> {
    const budgets = new Map<string, number>();
    for (const repo of this.repos.all()) {
      if (!(repo instanceof RemoteRepo)) continue;
      const snapshot = repo.upstream.budget.snapshot();
      if (snapshot.blockedUntil !== undefined) budgets.set(repo.key, 0);
      else if (snapshot.remaining !== undefined) budgets.set(repo.key, snapshot.remaining);
    }
    return budgets;
  }

  private async removeAbandonedUploads(): Promise<void> {
    const removed = await this.services.uploads.removeAbandoned().catch((err: unknown) => {
      this.options.log.warn({ err }, 'could not remove abandoned uploads');
      return 0;
    });
    if (removed > 0) this.options.log.info({ removed }, 'removed abandoned uploads');
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const ctx = createRequestContext(req, res, this.options.config.server);
    res.on('close', () => this.logRequest(ctx, started));
    this.route(ctx).catch((caught: unknown) => {
      const err = asClientError(caught);
      const clientLeft = (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
      if (!clientLeft && (!(err instanceof ShelfError) || err.status >= 500)) {
        this.options.log.error({ err, method: ctx.method, path: ctx.access.path ?? ctx.rawPath }, 'request failed');
      }
      dropUnreadBody(ctx);
      sendError(ctx, err);
    });
  };

  private async route(ctx: RequestContext): Promise<void> {
    const [first, ...rest] = decodeSegments(ctx.rawPath);
    switch (first) {
      case undefined:
      case '':
        // A browser opening Shelf's address gets the web UI; anything else, where to find the API.
        if (ctx.req.headers.accept?.includes('text/html')) {
          ctx.res.writeHead(302, { location: '/ui/' }).end();
          return;
        }
        return sendJson(ctx, 200, { name: 'shelf', ui: `${ctx.baseUrl}/ui/`, repositories: `${ctx.baseUrl}/api/repositories` });
      case 'ui':
        return this.ui.serve(ctx, rest);
      case '-':
        return this.system(ctx, rest);
      case 'api': {
        const formatApi = this.formatApis.get(rest[0] ?? '');
        return formatApi ? formatApi(ctx, rest.slice(1), this.services) : this.api.handle(ctx, rest);
      }
      default: {
        const rootRoute = this.rootRoutes.get(first);
        if (rootRoute) return rootRoute(ctx, rest, this.services);
        const repo = this.repos.get(first);
        if (!repo) throw notFound(`repository ${first}`);
        ctx.access.repo = repo.key;
        ctx.access.format = repo.format;
        return this.serveRepository(ctx, repo, rest);
      }
    }
  }

  /** A request below `/<repoKey>/`: its permission checked, then the format's protocol, errors in its own body. */
  private async serveRepository(ctx: RequestContext, repo: Repository, segments: string[]): Promise<void> {
    const module = formatModule(repo.format);
    try {
      const need = module.accessNeed(ctx.method, segments);
      if (need) await this.services.access.require(ctx, need.action, repo, need.subject);
      await module.handle(ctx, repo, segments, this.services);
    } catch (caught) {
      const err = asClientError(caught);
      if (!module.sendError || !(err instanceof ShelfError) || ctx.res.headersSent) throw err;
      dropUnreadBody(ctx);
      module.sendError(ctx, err);
    }
  }

  private async system(ctx: RequestContext, segments: string[]): Promise<void> {
    switch (segments.join('/')) {
      case 'healthz':
        return sendJson(ctx, 200, { status: 'ok', version: SHELF_VERSION });
      case 'readyz':
        return this.readiness(ctx);
      case 'metrics': {
        const text = this.options.metricsText
          ? await this.options.metricsText(this.metrics)
          : await this.metrics.registry.metrics();
        return sendText(ctx, 200, text, this.metrics.registry.contentType);
      }
      default:
        throw notFound(`/-/${segments.join('/')}`);
    }
  }

  /**
   * Ready when the index accepts a write and the blob store's disk accepts a file and has room left; each
   * is reported, so that a load balancer's log (or an operator) sees which one failed.
   */
  private async readiness(ctx: RequestContext): Promise<void> {
    const check = async (probe: () => Promise<unknown>) => {
      try {
        await probe();
        return { ok: true as const };
      } catch (err) {
        return { ok: false as const, error: (err as Error).message };
      }
    };
    let freeBytes = 0;
    const [index, storage] = await Promise.all([
      check(() => this.index.ping()),
      check(async () => {
        const probe = join(this.blobs.tempDir, `readyz-${tempOwner()}`);
        await writeFile(probe, 'ok');
        await unlink(probe);
        await this.blobs.place.ping();
        const space = await this.disk.space();
        freeBytes = space.freeBytes;
        if (space.low) throw new Error(`only ${freeBytes} bytes free on the data disk (storage.minFreeBytes: ${space.minFreeBytes}); nothing new is stored`);
      }),
    ]);
    const checks = { index: { type: this.options.config.storage.index.type, ...index }, storage: { type: this.blobs.place.kind, ...storage } };
    if (!index.ok || !storage.ok) {
      const reason = [!index.ok && `index: ${index.error}`, !storage.ok && `storage: ${storage.error}`].filter(Boolean).join('; ');
      return sendJson(ctx, 503, { status: 'not ready', reason, node: this.heartbeat.node.id, checks });
    }
    const notConfigured = unconfiguredRepositories(this.options.config);
    sendJson(ctx, 200, { status: 'ready', node: this.heartbeat.node.id, freeBytes, checks, ...(notConfigured.length > 0 && { notConfigured }) });
  }

  private logRequest(ctx: RequestContext, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const status = ctx.res.statusCode;
    const { repo, format, cache, bytes, user, credential, change } = ctx.access;
    const path = ctx.access.path ?? ctx.rawPath;
    if (change) {
      this.services.access.audit.record({
        event: change.action,
        user: user ?? null,
        ...(credential && { credential }),
        address: ctx.clientAddress,
        repo: change.repo,
        ...(change.subject !== undefined && { path: change.subject }),
        method: ctx.method,
        url: path,
        result: status,
      });
    }
    this.metrics.requests.inc({ repo: repo ?? '', format: format ?? '', method: ctx.method, status });
    this.traffic.record(status, cache);
    this.metrics.requestDuration.observe({ format: format ?? '' }, seconds);
    if (repo) this.metrics.bytesServed.inc({ repo }, bytes);
    if (repo && cache) this.metrics.cacheResults.inc({ repo, result: cache });
    this.requestLog.info(
      {
        method: ctx.method,
        path,
        status,
        repo,
        ...(user !== undefined && { user }),
        cache,
        bytes,
        durationMs: Math.round(seconds * 1000),
        complete: ctx.res.writableFinished,
      },
      'request',
    );
  }

  /** After logrotate: the audit log is written to a new file at its path. */
  reopenLogs(): void {
    this.services.access.audit.reopen();
  }

  async close(): Promise<void> {
    clearInterval(this.uploadSweep);
    this.heartbeat.stop();
    this.deferredDigests.stop();
    await this.workers.close();
    await this.digestThreads.close();
    await this.passwordChecks.close();
    await this.downloads.close();
    await this.traffic.close();
    await this.services.access.audit.close();
    await this.repos.close();
    await this.index.close();
  }
}
