import { badRequest } from '../errors.js';

/** A whole-number query parameter from 1 to `max`, `fallback` when absent; anything else is a 400. */
export function boundedNumber(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const given = params.get(name);
  if (given === null) return fallback;
  const value = Number(given);
  if (!Number.isInteger(value) || value < 1 || value > max) throw badRequest(`${name} is a whole number from 1 to ${max}`);
  return value;
}

/** `?limit=` of a paged listing: 100 by default, at most 1000. */
export const pageLimit = (params: URLSearchParams) => boundedNumber(params, 'limit', 100, 1000);
