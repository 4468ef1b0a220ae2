import { parentPort, workerData } from 'node:worker_threads';
import type { ShelfConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import { withJobContext } from '../lifecycle/job-context.js';
import { createLogger } from '../observability/logger.js';
import { runImport } from './import-job.js';

/** The thread importInThread starts: one import, answered as one message. */
const { config, path } = workerData as { config: ShelfConfig; path: string };
try {
  const summary = await withJobContext(config, createLogger(config.logging.level), (context) => runImport(context, path));
  parentPort!.postMessage({ summary });
} catch (err) {
  const error = err instanceof ShelfError ? err : new ShelfError('IMPORT_FAILED', 500, (err as Error).message);
  parentPort!.postMessage({ error: { code: error.code, status: error.status, message: error.message } });
}
