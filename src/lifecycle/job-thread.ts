import { Worker } from 'node:worker_threads';
import type { ShelfConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';

/** Jobs that read and hash gigabytes: run in a thread of their own, never on a loop that serves requests. */
export type ThreadJob =
  /** A bundle at a path on this host; `origin` says where it came from when that was not the path itself. */
  | { kind: 'import'; path: string; origin?: string }
  /** One run of a configured replication. */
  | { kind: 'replicate'; name: string }
  /** A bundle of whole repositories (what changed after `since`) written to `out`, an archive path. */
  | { kind: 'export'; repositories: string[]; since?: { time: number; predecessor: string }; out: string };

/** Runs `job` in a new thread with its own storage handles, and answers what it returned or threw. */
export function runInJobThread<Result>(config: ShelfConfig, job: ThreadJob): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./job-thread-main.js', import.meta.url), { workerData: { config, job } });
    worker.once('message', (message: { result?: Result; error?: { code: string; status: number; message: string } }) => {
      // The answer is all a job thread is for: whatever it still holds open (sockets, timers) goes with it.
      void worker.terminate();
      if (message.error) reject(new ShelfError(message.error.code, message.error.status, message.error.message));
      else resolve(message.result as Result);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the ${job.kind} thread ended (exit ${code}) without an answer`)));
  });
}
