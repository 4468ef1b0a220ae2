import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ChecksumAlgorithm } from '../storage/checksums.js';
import type { HashFileResult, HashFileTask } from './hash-file.js';

/** Worker threads for CPU-heavy work, so hashing a large file never stalls the event loop that serves requests. */
export class WorkerPool {
  private pool?: Piscina;

  constructor(private readonly maxThreads = Math.max(1, availableParallelism() - 1)) {}

  /** Digests of a file; the threads start on first use. */
  async hashFile(path: string, algorithms: ChecksumAlgorithm[]): Promise<HashFileResult> {
    this.pool ??= new Piscina({
      filename: new URL('./hash-file.js', import.meta.url).href,
      maxThreads: this.maxThreads,
      minThreads: 0,
    });
    return (await this.pool.run({ path, algorithms } satisfies HashFileTask)) as HashFileResult;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}
