import { badRequest } from '../errors.js';

/** `?limit=` of a paged listing: 100 by default, at most 1000. */
export function pageLimit(params: URLSearchParams): number {
  const given = params.get('limit');
  if (given === null) return 100;
  const limit = Number(given);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit is a whole number from 1 to 1000');
  return limit;
}
