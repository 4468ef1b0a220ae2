import type { Logger } from 'pino';
import type { RetentionPolicy } from '../config/schema.js';
import { formatModule } from '../formats/index.js';
import type { HostedVersion } from '../formats/format-module.js';
import { LocalRepo } from '../repos/local-repo.js';
import { PathFilter } from '../repos/path-pattern.js';
import type { RepositoryRegistry } from '../repos/repository-registry.js';
import type { AuditLog } from '../security/audit-log.js';
import type { MetadataIndex } from '../storage/metadata-index.js';
import { listAll } from '../storage/listing.js';
import { withLease } from './lease.js';

const DAY_MS = 86_400_000;

export interface RetentionDeletion {
  repo: string;
  policy: string;
  package: string;
  version: string;
  publishedAt: string;
}

export interface RetentionReport {
  dryRun: boolean;
  /** What was deleted (or, dry run, what would be), version by version. */
  deleted: RetentionDeletion[];
}

interface RetentionDependencies {
  repos: RepositoryRegistry;
  index: MetadataIndex;
  audit: AuditLog;
  log: Logger;
}

/** A policy ready to judge one package's versions. */
class CompiledPolicy {
  private readonly packages: PathFilter;

  constructor(readonly policy: RetentionPolicy) {
    this.packages = new PathFilter(policy.packages, policy.excludePackages);
  }

  /** The versions (newest first) this policy deletes: beyond the newest N, and older than D days, as given. */
  doomed(name: string, versions: HostedVersion[], now: number): HostedVersion[] {
    if (!this.packages.allows(name)) return [];
    const { keepLastVersions, deleteOlderThanDays } = this.policy;
    return versions.filter(
      (version, rank) =>
        (keepLastVersions === undefined || rank >= keepLastVersions) &&
        (deleteOlderThanDays === undefined || version.publishedAt < now - deleteOlderThanDays * DAY_MS),
    );
  }
}

/**
 * Applies every hosted repository's retention policies: the versions they doom are removed through the
 * format (npm unpublishes, PyPI removes a release's files, Maven a version folder), so generated metadata
 * (packuments, simple pages, maven-metadata.xml) shows the result at once. Each deletion is audit-logged
 * with its policy's name. A dry run lists exactly what a run would delete. One run at a time in the cluster.
 */
export function applyRetention(deps: RetentionDependencies, options: { dryRun: boolean }): Promise<RetentionReport> {
  return withLease(deps.index, 'retention', async (lease) => {
    const now = Date.now();
    const report: RetentionReport = { dryRun: options.dryRun, deleted: [] };
    for (const repo of deps.repos.all()) {
      const rules = formatModule(repo.format).retention;
      if (!(repo instanceof LocalRepo) || !rules || !repo.config.retention) continue;
      const policies = repo.config.retention.map((policy) => new CompiledPolicy(policy));
      for await (const versions of rules.versions(listAll(deps.index, repo.key))) {
        const name = versions[0]?.package ?? '';
        const doomedBy = new Map<string, { version: HostedVersion; policy: string }>();
        for (const compiled of policies) {
          for (const version of compiled.doomed(name, versions, now)) {
            if (!doomedBy.has(version.version)) doomedBy.set(version.version, { version, policy: compiled.policy.name });
          }
        }
        for (const { version, policy } of doomedBy.values()) {
          const deletion = { repo: repo.key, policy, package: name, version: version.version, publishedAt: new Date(version.publishedAt).toISOString() };
          if (!options.dryRun) {
            await rules.remove(repo, version);
            deps.audit.record({ event: 'retention.delete', user: null, repo: repo.key, path: `${name}@${version.version}`, policy, result: 'ok' });
          }
          report.deleted.push(deletion);
        }
      }
      await lease.renew();
    }
    deps.log.info({ retention: { dryRun: options.dryRun, deleted: report.deleted.length } }, 'retention applied');
    return report;
  });
}
