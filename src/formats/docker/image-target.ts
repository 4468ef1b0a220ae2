import { ShelfError } from '../../errors.js';
import type { RequestContext } from '../../http/request-context.js';
import type { Repository } from '../../repos/repository.js';
import type { FormatServices } from '../format-module.js';

/** An image inside one Shelf repository, and the name the client calls it by. */
export interface ImageTarget {
  repo: Repository;
  image: string;
  /** As the client wrote it in the URL (`<repoKey>/<image>`, or just `<image>` for the default repository). */
  name: string;
}

export interface RegistryRequest {
  ctx: RequestContext;
  target: ImageTarget;
  services: FormatServices;
}

export const registryUrl = (ctx: RequestContext, target: ImageTarget, rest: string) =>
  `${ctx.baseUrl}/v2/${target.name}/${rest}`;

/** Turns the engine's NOT_FOUND into the registry's specific code. */
export function rethrowNotFound(specific: () => ShelfError) {
  return (err: unknown): never => {
    throw err instanceof ShelfError && err.code === 'NOT_FOUND' ? specific() : err;
  };
}
