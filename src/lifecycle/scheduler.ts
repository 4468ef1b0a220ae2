import { Cron } from 'croner';
import type { Logger } from 'pino';
import { openStorage } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { CacheEviction, evictionConfigured } from './eviction.js';
import { collectGarbage } from './gc.js';

export interface Scheduler {
  stop(): void;
}

/**
 * Lifecycle jobs on their schedules, started by one process of the cluster (the primary, or the only
 * process). Each run opens its own handles on the storage and takes its job's cluster-wide lease, so a run
 * that the API or the CLI started meanwhile is not doubled.
 */
export function scheduleLifecycleJobs(config: ShelfConfig, log: Logger): Scheduler {
  const jobs: Cron[] = [];
  const { schedule } = config.storage.gc;
  if (schedule !== false) {
    jobs.push(
      new Cron(schedule, { protect: true }, () =>
        runJob(config, log, 'garbage collection', (storage) => collectGarbage({ ...storage, config, log }, { dryRun: false })),
      ),
    );
  }
  const timers: NodeJS.Timeout[] = [];
  if (evictionConfigured(config)) {
    const evict = () => runJob(config, log, 'cache eviction', (storage) => new CacheEviction({ ...storage, config, log }).run());
    timers.push(setInterval(() => void evict(), config.storage.cacheEviction.intervalSeconds * 1000).unref());
  }
  return {
    stop: () => {
      jobs.forEach((job) => job.stop());
      timers.forEach((timer) => clearInterval(timer));
    },
  };
}

async function runJob(
  config: ShelfConfig,
  log: Logger,
  name: string,
  job: (storage: Awaited<ReturnType<typeof openStorage>>) => Promise<unknown>,
): Promise<void> {
  const storage = await openStorage(config);
  try {
    await job(storage);
  } catch (err) {
    if (err instanceof ShelfError && err.code === 'JOB_RUNNING') log.info({ job: name }, `scheduled ${name} skipped: ${err.message}`);
    else log.error({ err, job: name }, `scheduled ${name} failed`);
  } finally {
    await storage.index.close();
  }
}
