import { parentPort, workerData } from 'node:worker_threads';
import { exportToFile } from '../bundles/export.js';
import { runImport } from '../bundles/import-job.js';
import type { ShelfConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { runReplication } from '../replication/replication.js';
import { withJobContext } from './job-context.js';
import type { ThreadJob } from './job-thread.js';

/** The thread runInJobThread starts: one job, answered as one message. */
const { config, job } = workerData as { config: ShelfConfig; job: ThreadJob };
try {
  const result = await withJobContext<unknown>(config, createLogger(config.logging.level), (context) => {
    if (job.kind === 'import') return runImport(context, job.path, undefined, job.origin);
    if (job.kind === 'replicate') return runReplication(context, job.name);
    return exportToFile(context, job.repositories, job.out, job.since);
  });
  parentPort!.postMessage({ result });
} catch (err) {
  const error = err instanceof ShelfError ? err : new ShelfError('JOB_FAILED', 500, (err as Error).message);
  parentPort!.postMessage({ error: { code: error.code, status: error.status, message: error.message } });
}
