import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FlightCoordinator, FlightEvent, FlightTicket } from '../repos/flights.js';
import type { MetadataIndex } from '../storage/metadata-index.js';

/** A claim unrenewed this long belongs to a node that died mid-fetch: another node takes it over. */
const CLAIM_TTL_MS = 15_000;
const RENEW_EVERY_MS = CLAIM_TTL_MS / 3;
/** The longest a node waits for another node's fetch before it asks the upstream itself. */
const MAX_WAIT_MS = 30 * 60_000;

/**
 * Single-flight across nodes that share an index: within a node the inner coordinator (the cluster's primary,
 * or this process) picks one leader per key; that leader then claims the key cluster-wide (a lease in the
 * index) before it asks the upstream. While another node holds the claim it waits, and then finds the file
 * stored (RemoteRepo checks before it fetches), so N cold requests over all nodes make one upstream request.
 */
export class ClusterFlightCoordinator implements FlightCoordinator {
  private readonly holder = randomUUID();
  /** Keys this process has claimed, with the timer that keeps each claim alive. */
  private readonly claims = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly inner: FlightCoordinator,
    private readonly index: MetadataIndex,
    private readonly log: Logger,
  ) {}

  async join(key: string): Promise<FlightTicket> {
    const ticket = await this.inner.join(key);
    if (ticket.leader) await this.claim(key);
    return ticket;
  }

  publish(key: string, event: FlightEvent): void {
    this.inner.publish(key, event);
    if (event.type !== 'streaming') this.release(key);
  }

  /**
   * Waits until this process holds the key's claim. If the index cannot be reached the fetch goes ahead
   * unclaimed: one extra upstream request is better than a request that waits on a database.
   */
  private async claim(key: string): Promise<void> {
    const lease = leaseName(key);
    const deadline = Date.now() + MAX_WAIT_MS;
    try {
      for (let delay = 20; !(await this.index.acquireLease(lease, this.holder, CLAIM_TTL_MS)); delay = Math.min(2 * delay, 250)) {
        if (Date.now() > deadline) {
          this.log.warn({ key }, 'another node has been fetching this for too long; asking the upstream too');
          return;
        }
        await sleep(delay);
      }
    } catch (err) {
      this.log.warn({ err }, 'could not claim a fetch in the index; fetching without the claim');
      return;
    }
    const renew = setInterval(() => {
      this.index.acquireLease(lease, this.holder, CLAIM_TTL_MS).catch(() => undefined);
    }, RENEW_EVERY_MS);
    renew.unref();
    this.claims.set(key, renew);
  }

  private release(key: string): void {
    const renew = this.claims.get(key);
    if (!renew) return;
    clearInterval(renew);
    this.claims.delete(key);
    // The claim's expiry frees it if this fails.
    this.index.releaseLease(leaseName(key), this.holder).catch(() => undefined);
  }
}

/** Flight keys hold NUL (repository, then path), which PostgreSQL text cannot: the lease is named by a digest. */
const leaseName = (key: string) => `flight:${createHash('sha256').update(key).digest('hex')}`;
