import type { RepositoryConfig } from '../config/schema.js';
import { UpstreamClient } from '../upstream/upstream-client.js';
import { LocalRepo } from './local-repo.js';
import { RemoteRepo } from './remote-repo.js';
import type { FormatRules, RepoContext, Repository } from './repository.js';
import { VirtualRepo } from './virtual-repo.js';

/** The configured repositories by key, built once at start-up. */
export class RepositoryRegistry {
  private readonly repos = new Map<string, Repository>();

  constructor(configs: RepositoryConfig[], rulesFor: (config: RepositoryConfig) => FormatRules, ctx: RepoContext) {
    for (const config of configs) {
      this.repos.set(config.key, this.build(config, rulesFor(config), ctx));
    }
  }

  private build(config: RepositoryConfig, rules: FormatRules, ctx: RepoContext): Repository {
    switch (config.type) {
      case 'local':
        return new LocalRepo(config, rules, ctx);
      case 'remote':
        return new RemoteRepo(config, rules, ctx, new UpstreamClient(config));
      case 'virtual':
        return new VirtualRepo(config, (key) => this.repos.get(key)!);
    }
  }

  get(key: string): Repository | undefined {
    return this.repos.get(key);
  }

  all(): Repository[] {
    return [...this.repos.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((repo) => (repo instanceof RemoteRepo ? repo.upstream.close() : undefined)));
  }
}
