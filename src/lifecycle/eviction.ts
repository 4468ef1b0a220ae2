import type { Logger } from 'pino';
import type { RemoteRepoConfig, ShelfConfig } from '../config/schema.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ArtifactRecord, MetadataIndex } from '../storage/metadata-index.js';
import { withLease } from './lease.js';

const DAY_MS = 86_400_000;
const BATCH = 200;

export interface EvictionReport {
  repo: string;
  files: number;
  bytes: number;
}

interface EvictionDependencies {
  blobs: BlobStore;
  index: MetadataIndex;
  config: ShelfConfig;
  log: Logger;
}

/** What one walk through a set of caches, least recently used first, removes. */
interface EvictionGoal {
  /** Evict until the caches hold no more than this. */
  targetBytes?: number;
  /** Evict what was last used before this time (ms). */
  unusedBefore?: number;
}

const lastUse = (record: ArtifactRecord) => record.downloadedAt ?? record.createdAt;

const remotesOf = (config: ShelfConfig) => config.repositories.filter((repo): repo is RemoteRepoConfig => repo.type === 'remote');

/** Whether any cache has a limit or an unused-files rule (otherwise eviction never runs). */
export function evictionConfigured(config: ShelfConfig): boolean {
  return (
    config.storage.maxCacheBytes !== undefined ||
    remotesOf(config).some((repo) => repo.cache.maxBytes !== undefined || repo.cache.evictUnusedAfterDays !== undefined)
  );
}

/**
 * Keeps remote repositories' caches within their limits: each cache's `cache.maxBytes`, all caches together
 * `storage.maxCacheBytes`, and `cache.evictUnusedAfterDays`. Past the high watermark of a limit, the least
 * recently downloaded files are removed until the cache is down to the low watermark; their blobs are
 * deleted at once unless something else refers to them. Hosted content is never touched. A request that
 * is reading a file keeps its open descriptor, so a download in progress is never cut short.
 */
export class CacheEviction {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly deps: EvictionDependencies) {}

  private get remotes(): RemoteRepoConfig[] {
    return remotesOf(this.deps.config);
  }

  /** After a cache stored a file: evicts in the background when a limit's high watermark is passed. */
  cacheGrew(): void {
    if (!evictionConfigured(this.deps.config)) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runUntilSettled().finally(() => (this.running = undefined));
  }

  private async runUntilSettled(): Promise<void> {
    do {
      this.again = false;
      await this.run().catch((err: unknown) => {
        if ((err as { code?: string }).code !== 'JOB_RUNNING') this.deps.log.error({ err }, 'cache eviction failed');
      });
    } while (this.again);
  }

  /** Checks every cache against its limits and its unused-files rule, once at a time in the cluster. */
  run(): Promise<EvictionReport[]> {
    const { index, config, log } = this.deps;
    const { highWatermarkPercent, lowWatermarkPercent } = config.storage.cacheEviction;
    const overHigh = (bytes: number, limit: number) => bytes > (limit * highWatermarkPercent) / 100;
    const low = (limit: number) => Math.floor((limit * lowWatermarkPercent) / 100);
    return withLease(index, 'cache eviction', async (lease) => {
      const started = Date.now();
      const evicted = new Map<string, EvictionReport>();
      for (const repo of this.remotes) {
        const { maxBytes, evictUnusedAfterDays } = repo.cache;
        const { bytes } = await index.usageOf(repo.key);
        const goal: EvictionGoal = {
          ...(maxBytes !== undefined && overHigh(bytes, maxBytes) && { targetBytes: low(maxBytes) }),
          ...(evictUnusedAfterDays !== undefined && { unusedBefore: started - evictUnusedAfterDays * DAY_MS }),
        };
        await this.evict([repo.key], bytes, goal, started, evicted);
        await lease.renew();
      }
      const maxCacheBytes = config.storage.maxCacheBytes;
      if (maxCacheBytes !== undefined && this.remotes.length > 0) {
        const keys = this.remotes.map((repo) => repo.key);
        const total = (await index.repositoryUsage()).filter((u) => keys.includes(u.repo)).reduce((sum, u) => sum + u.bytes, 0);
        if (overHigh(total, maxCacheBytes)) await this.evict(keys, total, { targetBytes: low(maxCacheBytes) }, started, evicted);
      }
      const report = [...evicted.values()];
      if (report.length > 0) log.info({ evicted: report }, 'evicted cached files');
      return report;
    });
  }

  private async evict(repos: string[], bytes: number, goal: EvictionGoal, started: number, evicted: Map<string, EvictionReport>): Promise<void> {
    const { index, blobs } = this.deps;
    if (goal.targetBytes === undefined && goal.unusedBefore === undefined) return;
    for (;;) {
      const batch = await index.leastRecentlyUsed(repos, BATCH);
      if (batch.length === 0) return;
      for (const record of batch) {
        const over = goal.targetBytes !== undefined && bytes > goal.targetBytes;
        const unused = goal.unusedBefore !== undefined && lastUse(record) < goal.unusedBefore;
        // Least recently used first: once one file may stay, all the later ones may too.
        if (!over && !unused) return;
        if (!(await index.deleteArtifact(record.repo, record.path))) continue;
        bytes -= record.blob.size;
        const tally = evicted.get(record.repo) ?? { repo: record.repo, files: 0, bytes: 0 };
        tally.files += 1;
        tally.bytes += record.blob.size;
        evicted.set(record.repo, tally);
        // The bytes go now unless another path refers to them, or a write renewed them since the run began.
        const sha256 = record.blob.sha256;
        if ((await index.blobReferences(sha256)) === 0) await blobs.sweep(sha256, started, async () => (await index.blobReferences(sha256)) > 0);
      }
    }
  }
}
