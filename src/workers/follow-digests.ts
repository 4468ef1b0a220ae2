import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { OtherDigests } from '../storage/checksums.js';

/**
 * What a writer and the thread that follows its file share: [0] a counter bumped at every change, [1] the
 * state (0 while writing, then FINISHED or ABANDONED), then as a 64-bit integer at byte 8, the bytes written so far.
 */
export const FOLLOW_STATE_BYTES = 16;
export const FINISHED = 1;
export const ABANDONED = 2;

export interface FollowTask {
  path: string;
  shared: SharedArrayBuffer;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * Runs in a worker thread: sha1, md5 and sha512 of a file while it is being written, reading only what the
 * writer says is there and sleeping (Atomics.wait) until it says more, until it says it is finished.
 */
export default function followDigests({ path, shared }: FollowTask): OtherDigests {
  const signal = new Int32Array(shared, 0, 2);
  const written = new BigInt64Array(shared, 8, 1);
  const hashes = { sha1: createHash('sha1'), md5: createHash('md5'), sha512: createHash('sha512') };
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  const fd = openSync(path, 'r');
  try {
    let position = 0;
    for (;;) {
      const seen = Atomics.load(signal, 0);
      const available = Number(Atomics.load(written, 0));
      if (position < available) {
        const count = readSync(fd, buffer, 0, Math.min(CHUNK_BYTES, available - position), position);
        if (count === 0) throw new Error(`${path} is shorter than its writer says`);
        for (const hash of Object.values(hashes)) hash.update(buffer.subarray(0, count));
        position += count;
        continue;
      }
      const state = Atomics.load(signal, 1);
      if (state === ABANDONED) throw new Error('the write was abandoned');
      if (state === FINISHED) break;
      Atomics.wait(signal, 0, seen, 1000);
    }
  } finally {
    closeSync(fd);
  }
  return { sha1: hashes.sha1.digest('hex'), md5: hashes.md5.digest('hex'), sha512: hashes.sha512.digest('hex') };
}
