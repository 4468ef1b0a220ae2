import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DiskSpace } from '../storage/disk-guard.js';
import type { ReplicationState, RepositoryUsage } from '../storage/metadata-index.js';

/** Where the gauges read their values on each scrape. */
export interface MetricSources {
  storageBytes(): Promise<number>;
  /** Each remote's announced rate-limit budget (remaining requests), where it announced one. */
  upstreamBudgets(): Map<string, number>;
  uploads(): Promise<{ sessions: number; bytes: number }>;
  disk(): Promise<DiskSpace>;
  repositories(): Promise<RepositoryUsage[]>;
  replication(): Promise<ReplicationState[]>;
}

/** Shelf's Prometheus metrics. In a cluster each worker has its own; the primary sums them on scrape. */
export class ShelfMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'shelf_http_requests_total',
    help: 'HTTP requests by repository, format, method and status',
    labelNames: ['repo', 'format', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'shelf_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, to the last byte',
    labelNames: ['format'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly cacheResults = new Counter({
    name: 'shelf_cache_results_total',
    help: 'Remote and virtual reads by cache result (HIT, MISS, STALE, REVALIDATED)',
    labelNames: ['repo', 'result'] as const,
    registers: [this.registry],
  });

  readonly bytesServed = new Counter({
    name: 'shelf_bytes_served_total',
    help: 'Body bytes sent to clients',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });

  readonly upstreamRequests = new Counter({
    name: 'shelf_upstream_requests_total',
    help: 'Requests sent to upstreams, by repository and outcome (status code or error)',
    labelNames: ['repo', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly bytesFetched = new Counter({
    name: 'shelf_upstream_bytes_fetched_total',
    help: 'Body bytes received from upstreams',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });

  readonly upstreamFailures = new Counter({
    name: 'shelf_upstream_fetch_failures_total',
    help: 'Upstream fetches that failed, by repository and how (DIGEST_MISMATCH, SIZE_MISMATCH, UPSTREAM_ERROR, UPSTREAM_TIMEOUT, ...)',
    labelNames: ['repo', 'code'] as const,
    registers: [this.registry],
  });

  readonly passwordChecks = new Counter({
    name: 'shelf_password_checks_total',
    help: 'Password hashes computed (scrypt) to check a login, and checks refused because too many were waiting',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly storageBytes: Gauge;
  readonly upstreamBudget: Gauge<'repo'>;

  constructor({ storageBytes, upstreamBudgets, uploads, disk, repositories, replication }: MetricSources) {
    // Upload sessions live in the shared data directory: every worker reports the same figures.
    new Gauge({
      name: 'shelf_upload_sessions',
      help: 'Resumable uploads open (started, neither finished nor expired)',
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        this.set((await uploads()).sessions);
      },
    });
    new Gauge({
      name: 'shelf_upload_session_bytes',
      help: 'Bytes received by open resumable uploads',
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        this.set((await uploads()).bytes);
      },
    });
    this.upstreamBudget = new Gauge({
      name: 'shelf_upstream_ratelimit_remaining',
      help: 'Requests the upstream says remain in its rate-limit window (0 while blocked), by remote repository',
      labelNames: ['repo'] as const,
      registers: [this.registry],
      // Workers learn the budget from their own responses; the most recently spent (lowest) is the truth.
      aggregator: 'min',
      collect() {
        for (const [repo, remaining] of upstreamBudgets()) this.set({ repo }, remaining);
      },
    });
    this.storageBytes = new Gauge({
      name: 'shelf_storage_bytes',
      help: 'Bytes of distinct blobs referenced by any repository',
      registers: [this.registry],
      // Every worker reports the same figure; the cluster-wide value is one of them, not their sum.
      aggregator: 'max',
      async collect() {
        this.set(await storageBytes());
      },
    });
    // The data disk and the index are shared: every worker reports the same figures.
    new Gauge({
      name: 'shelf_storage_free_bytes',
      help: 'Free space on the data disk',
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        this.set((await disk()).freeBytes);
      },
    });
    new Gauge({
      name: 'shelf_storage_low',
      help: '1 while the data disk has less free space than storage.minFreeBytes (nothing new is stored)',
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        this.set((await disk()).low ? 1 : 0);
      },
    });
    new Gauge({
      name: 'shelf_repository_bytes',
      help: 'Bytes each repository holds (deployed or cached)',
      labelNames: ['repo'] as const,
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        for (const { repo, bytes } of await repositories()) this.set({ repo }, bytes);
      },
    });
    new Gauge({
      name: 'shelf_replication_last_success_timestamp_seconds',
      help: 'When each replication last completed a run (0: never)',
      labelNames: ['replication'] as const,
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        for (const state of await replication()) this.set({ replication: state.name }, (state.lastSuccessAt ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'shelf_replication_failing',
      help: '1 while the last run of a replication failed',
      labelNames: ['replication'] as const,
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        for (const state of await replication()) this.set({ replication: state.name }, state.lastError === null ? 0 : 1);
      },
    });
    new Gauge({
      name: 'shelf_replication_records',
      help: 'Records each replication has carried, all runs together',
      labelNames: ['replication'] as const,
      registers: [this.registry],
      aggregator: 'max',
      async collect() {
        for (const state of await replication()) this.set({ replication: state.name }, state.records);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }
}
