import { ShelfError } from '../errors.js';
import { LocalRepo } from './local-repo.js';
import type { Repository } from './repository.js';
import { VirtualRepo } from './virtual-repo.js';

/**
 * The local repository that a write sent to `repo` lands in: `repo` itself, or a virtual repository's
 * `defaultDeployRepo`. A remote repository is a read-only cache (405); `verb` names the write for the message.
 */
export function deployTarget(repo: Repository, verb: string): LocalRepo {
  const target = repo instanceof VirtualRepo ? repo.deployRepo() : repo;
  if (!(target instanceof LocalRepo)) {
    throw new ShelfError('METHOD_NOT_ALLOWED', 405, `${repo.key} is a ${repo.type} repository (a read-only cache); ${verb} to a local one`);
  }
  return target;
}
