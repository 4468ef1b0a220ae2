import { buildPackumentView, type PackumentTask, type PackumentView } from './packument.js';

/** Runs in a piscina worker thread: a large packument parsed, merged and rewritten off the serving event loop. */
export default function packumentWorker(task: PackumentTask): PackumentView | undefined {
  return buildPackumentView(task);
}
