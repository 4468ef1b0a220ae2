import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ChecksumAlgorithm, Checksums } from '../storage/checksums.js';

export interface HashFileTask {
  path: string;
  algorithms: ChecksumAlgorithm[];
}

export interface HashFileResult {
  digests: Partial<Checksums>;
  size: number;
}

/** Runs in a piscina worker thread: digests of a file at rest, off the serving event loop. */
export default async function hashFile({ path, algorithms }: HashFileTask): Promise<HashFileResult> {
  const hashes = algorithms.map((algorithm) => [algorithm, createHash(algorithm)] as const);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    size += (chunk as Buffer).length;
    for (const [, hash] of hashes) hash.update(chunk as Buffer);
  }
  return { digests: Object.fromEntries(hashes.map(([algorithm, hash]) => [algorithm, hash.digest('hex')])), size };
}
