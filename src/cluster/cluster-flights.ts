import { createHash, randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FlightCoordinator, FlightEnd, FlightEvent, FlightTicket, StreamingEvent } from '../repos/flights.js';
import type { MetadataIndex } from '../storage/metadata-index.js';

/** A claim unrenewed this long belongs to a node that died mid-fetch: another node takes it over. */
const CLAIM_TTL_MS = 15_000;
const RENEW_EVERY_MS = CLAIM_TTL_MS / 3;
/** How long an ended fetch's outcome stays readable for the nodes following it. */
const END_KEPT_MS = 60_000;
/** How often a follower looks at the claim: the bytes themselves come from the shared file meanwhile. */
const POLL_MS = 50;
/** The longest a node follows another node's fetch before it asks the upstream itself. */
const MAX_FOLLOW_MS = 30 * 60_000;

/**
 * Single-flight across nodes that share an index and a data directory. Within a node the inner coordinator
 * (the cluster's primary, or this process) picks one leader per key; that leader then claims the key in the
 * index before it asks the upstream, and announces the fetch's head (the temp file it writes, on the shared
 * filesystem) and its end there. A node that finds the key claimed follows instead: it hands its own
 * requests the other node's head, so they stream the growing file, and then its end, so N cold requests over
 * all nodes make one upstream request and every client gets bytes as they arrive.
 */
export class ClusterFlightCoordinator implements FlightCoordinator {
  private readonly holder = randomUUID();
  /** Keys this process has claimed: the renewal timer, and the announcements written so far (in order). */
  private readonly claims = new Map<string, { renew: NodeJS.Timeout; written: Promise<void> }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly inner: FlightCoordinator,
    private readonly index: MetadataIndex,
    private readonly log: Logger,
  ) {
    this.sweep = setInterval(() => void this.index.forgetFetches(Date.now() - END_KEPT_MS).catch(() => undefined), END_KEPT_MS);
    this.sweep.unref();
  }

  async join(key: string): Promise<FlightTicket> {
    const ticket = await this.inner.join(key);
    if (!ticket.leader) return ticket;
    const deadline = Date.now() + MAX_FOLLOW_MS;
    for (;;) {
      const claim = await this.index.claimFetch(claimName(key), this.holder, CLAIM_TTL_MS).catch((err: unknown) => {
        // One extra upstream request is better than a request that waits on a database.
        this.log.warn({ err }, 'could not claim a fetch in the index; fetching without the claim');
        return undefined;
      });
      if (!claim || claim.claimed) {
        if (claim) this.hold(key);
        return ticket;
      }
      if (claim.head && (await isReadable(parseHead(claim.head)))) {
        // This process relays the other node's fetch to its own node's requests.
        this.inner.publish(key, parseHead(claim.head));
        void this.follow(key, claim.holder);
        return { leader: false, flight: ticket.flight };
      }
      if (Date.now() > deadline) {
        this.log.warn({ key }, 'another node has been fetching this for too long; asking the upstream too');
        return ticket;
      }
      await sleep(POLL_MS);
    }
  }

  publish(key: string, event: FlightEvent): void {
    this.inner.publish(key, event);
    const claim = this.claims.get(key);
    if (!claim) return;
    const ended = event.type !== 'streaming';
    const json = JSON.stringify(event);
    // In order: an end written before its head would be overwritten by nothing, but read wrongly meanwhile.
    claim.written = claim.written
      .then(() => this.index.announceFetch(claimName(key), this.holder, ended ? undefined : json, ended ? json : undefined, END_KEPT_MS))
      .catch((err: unknown) => this.log.debug({ err }, 'could not announce a fetch'));
    if (ended) {
      clearInterval(claim.renew);
      this.claims.delete(key);
    }
  }

  private hold(key: string): void {
    const renew = setInterval(() => void this.index.renewFetch(claimName(key), this.holder, CLAIM_TTL_MS).catch(() => undefined), RENEW_EVERY_MS);
    renew.unref();
    this.claims.set(key, { renew, written: Promise.resolve() });
  }

  /** Waits for the other node's fetch to end, and hands its end to this node's requests. */
  private async follow(key: string, holder: string): Promise<void> {
    const deadline = Date.now() + MAX_FOLLOW_MS;
    let end: FlightEnd | undefined;
    while (!end) {
      await sleep(POLL_MS);
      const claim = await this.index.fetchClaim(claimName(key)).catch(() => 'unknown' as const);
      if (claim === 'unknown') {
        if (Date.now() > deadline) end = lost();
        continue;
      }
      if (claim?.holder === holder && claim.end) end = JSON.parse(claim.end) as FlightEnd;
      // The claim lapsed (its node died) or is gone, or a new fetch began: the outcome is unknown here.
      else if (!claim || claim.holder !== holder || !claim.live || Date.now() > deadline) end = lost();
    }
    this.inner.publish(key, end);
  }
}

/** Flight keys hold NUL (repository, then path), which PostgreSQL text cannot: claims are named by a digest. */
const claimName = (key: string) => createHash('sha256').update(key).digest('hex');

const parseHead = (head: string) => JSON.parse(head) as StreamingEvent;

/** Whether the other node's temp file can be read here (the data directory is shared, at the same path). */
const isReadable = (head: StreamingEvent) => access(head.tempPath).then(() => true, () => false);

const lost = (): FlightEnd => ({
  type: 'failed',
  error: { code: 'UPSTREAM_ERROR', status: 502, message: 'the node fetching this file stopped before it finished; retry', headers: {} },
});
