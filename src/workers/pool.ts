import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ChecksumAlgorithm } from '../storage/checksums.js';
import type { HashFileResult, HashFileTask } from './hash-file.js';

/**
 * Worker threads for CPU-heavy work (hashing a large file, parsing and merging a large metadata document),
 * so it never stalls the event loop that serves requests. One pool for the process; each task names the
 * module whose default export runs it.
 */
export class WorkerPool {
  private pool?: Piscina;

  constructor(
    private readonly maxThreads = Math.max(1, availableParallelism() - 1),
    /** Tasks that may wait for a thread; past it `run` rejects ("Task queue is at limit"). */
    private readonly maxQueue = Infinity,
  ) {}

  /** Runs `task` through the default export of `module` (a file URL); the threads start on first use. */
  async run<Result>(module: URL, task: unknown): Promise<Result> {
    this.pool ??= new Piscina({ maxThreads: this.maxThreads, minThreads: 0, maxQueue: this.maxQueue, idleTimeout: 30_000 });
    return (await this.pool.run(task, { filename: module.href })) as Result;
  }

  /** Digests of a file at rest. */
  async hashFile(path: string, algorithms: ChecksumAlgorithm[]): Promise<HashFileResult> {
    return this.run(new URL('./hash-file.js', import.meta.url), { path, algorithms } satisfies HashFileTask);
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}
