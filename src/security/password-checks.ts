import { ShelfError } from '../errors.js';
import type { ScryptTask } from '../workers/scrypt-task.js';
import { WorkerPool } from '../workers/pool.js';
import { hashPassword, verifyPassword, type Deriver } from './passwords.js';

const SCRYPT = new URL('../workers/scrypt-task.js', import.meta.url);

/**
 * The server's password checks (and hashes of new passwords): scrypt runs in a thread of its own (never on libuv's pool, which serves
 * files, nor on the event loop), at most `queue` checks wait for it (past that a 429: a flood of guesses
 * cannot grow an unbounded backlog). AccessControl makes the same credentials in flight wait for one check.
 */
export class PasswordChecks {
  private readonly pool: WorkerPool;

  constructor(
    private readonly observe: (outcome: 'hashed' | 'queue-full') => void = () => {},
    threads = 1,
    queue = 32,
  ) {
    this.pool = new WorkerPool(threads, queue);
  }

  readonly derive: Deriver = async (task: ScryptTask) => {
    try {
      const key = await this.pool.run<Uint8Array>(SCRYPT, task);
      this.observe('hashed');
      return key;
    } catch (err) {
      if ((err as Error).message === 'Task queue is at limit') {
        this.observe('queue-full');
        throw new ShelfError('TOO_MANY_REQUESTS', 429, 'too many password checks in progress; try again shortly', { 'retry-after': '1' });
      }
      throw err;
    }
  };

  verify = (password: string, stored: string): Promise<boolean> => verifyPassword(password, stored, this.derive);

  /** A new password's hash (an administrator setting it), on the same thread as the checks. */
  hash = (password: string): Promise<string> => hashPassword(password, this.derive);

  close(): Promise<void> {
    return this.pool.close();
  }
}
