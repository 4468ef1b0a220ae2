import type { DigestFollower, OtherDigestsElsewhere } from '../storage/blob-store.js';
import type { OtherDigests } from '../storage/checksums.js';
import { ABANDONED, FINISHED, FOLLOW_STATE_BYTES, type FollowTask } from './follow-digests.js';
import type { WorkerPool } from './pool.js';

const MODULE = new URL('./follow-digests.js', import.meta.url);

/**
 * Large writes' sha1, md5 and sha512, computed by a worker thread that follows the temp file as it grows
 * (see follow-digests.ts). The pool is separate: a thread may follow a slow download for minutes (asleep
 * while it waits), which must not hold up the metadata builds of the shared pool.
 */
export class ThreadedDigests implements OtherDigestsElsewhere {
  constructor(private readonly pool: WorkerPool) {}

  follow(path: string): DigestFollower {
    const shared = new SharedArrayBuffer(FOLLOW_STATE_BYTES);
    const signal = new Int32Array(shared, 0, 2);
    const written = new BigInt64Array(shared, 8, 1);
    const changed = () => {
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    };
    // One thread for the three: split over three threads they finish no sooner on a loaded machine, and
    // each thread costs its own heap.
    const digests = this.pool.run<OtherDigests>(MODULE, { path, shared } satisfies FollowTask);
    // Abandoned follows reject; nobody waits for them.
    digests.catch(() => undefined);
    return {
      wrote(bytes) {
        Atomics.store(written, 0, BigInt(bytes));
        changed();
      },
      finished() {
        Atomics.store(signal, 1, FINISHED);
        changed();
        return digests;
      },
      abandon() {
        Atomics.store(signal, 1, ABANDONED);
        changed();
      },
    };
  }
}
