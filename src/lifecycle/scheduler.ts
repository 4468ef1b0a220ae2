import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { ShelfConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { CacheEviction, evictionConfigured } from './eviction.js';
import { collectGarbage } from './gc.js';
import { withJobContext, type JobContext } from './job-context.js';
import { applyRetention } from './retention.js';
import { runInJobThread } from './job-thread.js';

export interface Scheduler {
  stop(): void;
}

/**
 * Lifecycle jobs on their schedules, started by one process of the cluster (the primary, or the only
 * process). Each run opens its own handles on the storage and takes its job's cluster-wide lease, so a run
 * that the API or the CLI started meanwhile is not doubled.
 */
export function scheduleLifecycleJobs(config: ShelfConfig, log: Logger): Scheduler {
  const crons: Cron[] = [];
  const timers: NodeJS.Timeout[] = [];
  const onSchedule = (schedule: string | false, name: string, job: (context: JobContext) => Promise<unknown>) => {
    if (schedule !== false) crons.push(new Cron(schedule, { protect: true }, () => runJob(config, log, name, job)));
  };
  onSchedule(config.storage.retention.schedule, 'retention', (context) => applyRetention(context, { dryRun: false }));
  onSchedule(config.storage.gc.schedule, 'garbage collection', (context) => collectGarbage(context, { dryRun: false }));
  const replicating = new Set<string>();
  for (const { name, intervalSeconds } of config.replication) {
    const replicate = () => {
      // A run still going (a large bundle) is not joined by another thread of this process.
      if (replicating.has(name)) return;
      replicating.add(name);
      return runInJobThread(config, { kind: 'replicate', name })
        .then(
          (outcome) => log.info({ job: 'replication', outcome }, `replication ${name} ran`),
          (err: unknown) => {
            if (err instanceof ShelfError && err.code === 'JOB_RUNNING') log.info({ job: 'replication', name }, `replication ${name} skipped: ${err.message}`);
            else log.warn({ err, job: 'replication', name }, `replication ${name} failed: ${(err as Error).message}`);
          },
        )
        .finally(() => replicating.delete(name));
    };
    // The first run soon after start, then one per interval.
    timers.push(setTimeout(() => void replicate(), Math.min(intervalSeconds, 5) * 1000).unref());
    timers.push(setInterval(() => void replicate(), intervalSeconds * 1000).unref());
  }
  if (evictionConfigured(config)) {
    const evict = () => runJob(config, log, 'cache eviction', (context) => new CacheEviction(context).run());
    timers.push(setInterval(() => void evict(), config.storage.cacheEviction.intervalSeconds * 1000).unref());
  }
  return {
    stop: () => {
      crons.forEach((cron) => cron.stop());
      timers.forEach((timer) => clearTimeout(timer));
    },
  };
}

async function runJob(config: ShelfConfig, log: Logger, name: string, job: (context: JobContext) => Promise<unknown>): Promise<void> {
  try {
    await withJobContext(config, log, job);
  } catch (err) {
    if (err instanceof ShelfError && err.code === 'JOB_RUNNING') log.info({ job: name }, `scheduled ${name} skipped: ${err.message}`);
    else log.error({ err, job: name }, `scheduled ${name} failed`);
  }
}
