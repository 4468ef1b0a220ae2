import type { VirtualRepoConfig } from '../config/schema.js';
import { ShelfError } from '../errors.js';
import type { StoredBlob } from '../storage/blob-store.js';
import type { ArtifactRecord, ListOptions } from '../storage/metadata-index.js';
import type { Artifact, GetOptions, PutOptions, Repository } from './repository.js';

export interface MemberValue<T> {
  repo: Repository;
  value: T;
}

/**
 * Asks `members` in order and collects their answers (stopping at the first with `firstOnly`). A member
 * that fails is skipped (its upstream is down, say); the first failure is raised only when none answered.
 */
export async function fromMembers<T>(
  members: Repository[],
  ask: (member: Repository) => Promise<T | undefined>,
  firstOnly = false,
): Promise<MemberValue<T>[]> {
  const found: MemberValue<T>[] = [];
  let failure: unknown;
  for (const member of members) {
    try {
      const value = await ask(member);
      if (value === undefined) continue;
      found.push({ repo: member, value });
      if (firstOnly) break;
    } catch (err) {
      failure ??= err;
    }
  }
  if (found.length === 0 && failure !== undefined) throw failure;
  return found;
}

/** One URL over an ordered list of members: reads resolve in member order, writes go to `defaultDeployRepo`. */
export class VirtualRepo implements Repository {
  readonly type = 'virtual';

  constructor(
    readonly config: VirtualRepoConfig,
    private readonly lookup: (key: string) => Repository,
  ) {}

  get key() {
    return this.config.key;
  }

  get format() {
    return this.config.format;
  }

  get members(): Repository[] {
    return this.config.members.map(this.lookup);
  }

  /** The first member that has the path answers. */
  async get(path: string, options?: GetOptions): Promise<Artifact | undefined> {
    return (await fromMembers(this.members, (member) => member.get(path, options), true))[0]?.value;
  }

  async record(path: string): Promise<ArtifactRecord | undefined> {
    for (const member of this.members) {
      const record = await member.record(path);
      if (record) return record;
    }
    return undefined;
  }

  /** Every member's listing merged by path; where two members hold a path, the earlier member's entry wins. */
  async list(options?: ListOptions): Promise<ArtifactRecord[]> {
    const byPath = new Map<string, ArtifactRecord>();
    for (const member of this.members) {
      for (const record of await member.list(options)) if (!byPath.has(record.path)) byPath.set(record.path, record);
    }
    const merged = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return options?.limit !== undefined ? merged.slice(0, options.limit) : merged;
  }

  async link(path: string, blob: StoredBlob, contentType: string): Promise<ArtifactRecord> {
    return this.deployRepo().link(path, blob, contentType);
  }

  async put(path: string, source: AsyncIterable<Buffer> | Iterable<Buffer>, options: PutOptions): Promise<ArtifactRecord> {
    return this.deployRepo().put(path, source, options);
  }

  async delete(path: string): Promise<void> {
    return this.deployRepo().delete(path);
  }

  /** Where writes through this repository land. */
  deployRepo(): Repository {
    if (!this.config.defaultDeployRepo) {
      throw new ShelfError('NO_DEPLOY_REPO', 405, `virtual repository ${this.key} has no defaultDeployRepo`);
    }
    return this.lookup(this.config.defaultDeployRepo);
  }
}
