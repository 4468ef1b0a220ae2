import type { FlightEvent } from '../repos/flights.js';
import { isFlightMessage, type FlightMessage } from './flight-messages.js';

interface HubFlight {
  leader: number;
  members: Set<number>;
  events: FlightEvent[];
}

/**
 * The primary's register of in-flight upstream fetches: picks one leader per key across all workers,
 * relays the leader's events to the other workers, and fails the flight if the leader's process dies.
 */
export class FlightHub {
  private readonly flights = new Map<string, HubFlight>();

  constructor(private readonly send: (workerId: number, message: FlightMessage) => void) {}

  onMessage(workerId: number, message: unknown): void {
    if (!isFlightMessage(message)) return;
    if (message.op === 'join') this.join(workerId, message.key, message.id);
    else if (message.op === 'event') this.relay(workerId, message.key, message.event);
  }

  onWorkerExit(workerId: number): void {
    for (const [key, flight] of this.flights) {
      flight.members.delete(workerId);
      if (flight.leader === workerId) {
        this.relay(workerId, key, {
          type: 'failed',
          error: { code: 'UPSTREAM_ERROR', status: 502, message: 'the worker fetching this file stopped', headers: {} },
        });
      }
    }
  }

  private join(workerId: number, key: string, id: number): void {
    const flight = this.flights.get(key);
    if (!flight) {
      this.flights.set(key, { leader: workerId, members: new Set([workerId]), events: [] });
      this.send(workerId, { shelf: 'flight', op: 'joined', key, id, leader: true });
      return;
    }
    if (!flight.members.has(workerId)) this.send(flight.leader, { shelf: 'flight', op: 'shared', key });
    flight.members.add(workerId);
    this.send(workerId, { shelf: 'flight', op: 'joined', key, id, leader: false });
    for (const event of flight.events) this.send(workerId, { shelf: 'flight', op: 'event', key, event });
  }

  private relay(fromWorker: number, key: string, event: FlightEvent): void {
    const flight = this.flights.get(key);
    if (!flight) return;
    flight.events.push(event);
    for (const member of flight.members) {
      if (member !== fromWorker) this.send(member, { shelf: 'flight', op: 'event', key, event });
    }
    if (event.type !== 'streaming') this.flights.delete(key);
  }
}
