import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

/** Worker threads for CPU-heavy work; tasks are modules in this folder, named by file. */
export function createWorkerPool(maxThreads = Math.max(1, availableParallelism() - 1)): Piscina {
  return new Piscina({ filename: new URL('./hash-file.js', import.meta.url).href, maxThreads });
}
