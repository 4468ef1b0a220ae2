import { ShelfError } from '../errors.js';

/** The leader has a 200 from upstream and is writing the body to `tempPath`; read it as it grows. */
export interface StreamingEvent {
  type: 'streaming';
  tempPath: string;
  /** Upstream's Content-Length, when it sent one. */
  size?: number;
  contentType: string;
}

export type FlightEnd =
  /** The body was verified and committed. */
  | { type: 'stored'; sha256: string; size: number }
  /** Nothing was streamed, but the index now holds the answer (e.g. a 304 revalidation). */
  | { type: 'settled' }
  | { type: 'notFound' }
  | { type: 'failed'; error: SerializedError };

export type FlightEvent = StreamingEvent | FlightEnd;

export interface SerializedError {
  code: string;
  status: number;
  message: string;
  headers: Record<string, string>;
}

export const serializeError = (err: unknown): SerializedError =>
  err instanceof ShelfError
    ? { code: err.code, status: err.status, message: err.message, headers: err.headers }
    : { code: 'UPSTREAM_ERROR', status: 502, message: (err as Error).message ?? String(err), headers: {} };

export const deserializeError = (e: SerializedError) => new ShelfError(e.code, e.status, e.message, e.headers);

/** One upstream fetch that many requests share: its first event and its end, as promises. */
export class Flight {
  readonly head: Promise<FlightEvent>;
  readonly end: Promise<FlightEnd>;
  /** Requests of this process reading or awaiting the fetch; the leader abandons a fetch nobody waits for. */
  waiting = 0;
  /** Another process follows this flight (its readers are not counted here), so it is never abandoned. */
  shared = false;
  private resolveHead!: (event: FlightEvent) => void;
  private resolveEnd!: (event: FlightEnd) => void;
  private ended = false;

  constructor() {
    this.head = new Promise((resolve) => (this.resolveHead = resolve));
    this.end = new Promise((resolve) => (this.resolveEnd = resolve));
  }

  get isEnded(): boolean {
    return this.ended;
  }

  publish(event: FlightEvent): void {
    if (this.ended) return;
    this.resolveHead(event);
    if (event.type !== 'streaming') {
      this.ended = true;
      this.resolveEnd(event);
    }
  }
}

export interface FlightTicket {
  leader: boolean;
  flight: Flight;
}

/**
 * Single-flight: for one key, the first caller leads (fetches upstream and publishes events), everyone
 * else follows the leader's events. Implementations: in one process, or across the cluster's workers.
 */
export interface FlightCoordinator {
  join(key: string): Promise<FlightTicket>;
  /** Called by the leader only; an end event closes the flight. */
  publish(key: string, event: FlightEvent): void;
}

export class LocalFlightCoordinator implements FlightCoordinator {
  private readonly flights = new Map<string, Flight>();

  async join(key: string): Promise<FlightTicket> {
    const existing = this.flights.get(key);
    if (existing) return { leader: false, flight: existing };
    const flight = new Flight();
    this.flights.set(key, flight);
    return { leader: true, flight };
  }

  publish(key: string, event: FlightEvent): void {
    const flight = this.flights.get(key);
    if (!flight) return;
    flight.publish(event);
    if (flight.isEnded) this.flights.delete(key);
  }
}
