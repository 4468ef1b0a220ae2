import type { FlightEvent } from '../repos/flights.js';

/** IPC between a worker's flight coordinator and the primary's hub. */
export type FlightMessage =
  | { shelf: 'flight'; op: 'join'; key: string; id: number }
  | { shelf: 'flight'; op: 'joined'; key: string; id: number; leader: boolean }
  | { shelf: 'flight'; op: 'event'; key: string; event: FlightEvent }
  /** To the leader: a worker other than the leader follows the flight. */
  | { shelf: 'flight'; op: 'shared'; key: string };

export const isFlightMessage = (message: unknown): message is FlightMessage =>
  typeof message === 'object' && message !== null && (message as { shelf?: unknown }).shelf === 'flight';
