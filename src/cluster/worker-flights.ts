import { Flight, type FlightCoordinator, type FlightEvent, type FlightTicket } from '../repos/flights.js';
import { isFlightMessage, type FlightMessage } from './flight-messages.js';

/**
 * A worker's view of cluster-wide single-flight: requests in this worker share one local Flight, and the
 * primary decides which worker leads, so N cold requests spread over all workers still make one fetch.
 */
export class WorkerFlightCoordinator implements FlightCoordinator {
  private readonly flights = new Map<string, Flight>();
  private readonly pendingJoins = new Map<number, (leader: boolean) => void>();
  private nextId = 1;

  constructor(private readonly send: (message: FlightMessage) => void) {}

  /** Feed every IPC message from the primary here. */
  onMessage(message: unknown): void {
    if (!isFlightMessage(message)) return;
    if (message.op === 'joined') {
      this.pendingJoins.get(message.id)?.(message.leader);
      this.pendingJoins.delete(message.id);
    } else if (message.op === 'event') {
      this.deliver(message.key, message.event);
    } else if (message.op === 'shared') {
      const flight = this.flights.get(message.key);
      if (flight) flight.shared = true;
    }
  }

  async join(key: string): Promise<FlightTicket> {
    const existing = this.flights.get(key);
    if (existing) return { leader: false, flight: existing };
    const flight = new Flight();
    this.flights.set(key, flight);
    const id = this.nextId++;
    const leader = await new Promise<boolean>((resolve) => {
      this.pendingJoins.set(id, resolve);
      this.send({ shelf: 'flight', op: 'join', key, id });
    });
    return { leader, flight };
  }

  publish(key: string, event: FlightEvent): void {
    this.deliver(key, event);
    this.send({ shelf: 'flight', op: 'event', key, event });
  }

  private deliver(key: string, event: FlightEvent): void {
    const flight = this.flights.get(key);
    if (!flight) return;
    flight.publish(event);
    if (flight.isEnded) this.flights.delete(key);
  }
}
