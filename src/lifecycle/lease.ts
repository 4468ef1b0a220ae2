import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ShelfError } from '../errors.js';
import { isProcessRunning } from '../process-alive.js';
import type { MetadataIndex } from '../storage/metadata-index.js';

/** How long a lease lasts unless renewed: a holder that dies frees the job after this. */
const LEASE_TTL_MS = 5 * 60_000;

/**
 * A cluster-wide lease on a job (garbage collection, eviction), kept in the index, so that the job runs
 * once at a time whichever process starts it: the scheduler, the API or the CLI.
 */
export class JobLease {
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;

  private constructor(
    private readonly index: MetadataIndex,
    readonly name: string,
  ) {}

  /**
   * Takes the lease, or fails with 409 while another holder has it. A holder on this host whose process is
   * gone (killed, crashed) is taken over at once: a job killed half-way never blocks the next run.
   */
  static async take(index: MetadataIndex, name: string): Promise<JobLease> {
    const lease = new JobLease(index, name);
    if (await index.acquireLease(name, lease.holder, LEASE_TTL_MS)) return lease;
    const holder = await index.leaseHolder(name);
    if (holder && holderIsGone(holder) && (await index.takeOverLease(name, holder, lease.holder, LEASE_TTL_MS))) return lease;
    throw new ShelfError('JOB_RUNNING', 409, `${name} is already running`);
  }

  /** Extends the lease; a long job renews it as it goes. Fails if another holder took it over meanwhile. */
  async renew(): Promise<void> {
    if (!(await this.index.acquireLease(this.name, this.holder, LEASE_TTL_MS))) {
      throw new ShelfError('JOB_RUNNING', 409, `${this.name} was taken over by another process`);
    }
  }

  async release(): Promise<void> {
    await this.index.releaseLease(this.name, this.holder);
  }
}

/** Whether a holder (`host:pid:id`) is a process of this host that no longer runs. */
function holderIsGone(holder: string): boolean {
  const [host, pid] = holder.split(':');
  return host === hostname() && Boolean(pid) && !isProcessRunning(Number(pid));
}

/** Runs `job` under the named lease, released however the job ends. */
export async function withLease<T>(index: MetadataIndex, name: string, job: (lease: JobLease) => Promise<T>): Promise<T> {
  const lease = await JobLease.take(index, name);
  try {
    return await job(lease);
  } finally {
    await lease.release();
  }
}
