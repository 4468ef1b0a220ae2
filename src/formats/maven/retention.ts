import type { HostedVersion, RetentionRules } from '../format-module.js';
import { isSnapshotVersion, parseArtifactPath } from './layout.js';
import { compareMavenVersions } from './versions.js';

/**
 * Maven release versions: the `group/path/artifactId/version/` folders holding the artifact's files
 * (SNAPSHOT builds have maxUniqueSnapshots). Removing one removes its folder; maven-metadata.xml is
 * generated from what is left.
 */
export const mavenRetention: RetentionRules = {
  async *versions(listing) {
    // One artifact's versions need not be contiguous in path order (a group may nest in another), so they
    // are gathered first: one entry per version, not per file.
    const artifacts = new Map<string, Map<string, number>>();
    for await (const record of listing) {
      const parsed = parseArtifactPath(record.path);
      if (!parsed || isSnapshotVersion(parsed.version)) continue;
      const name = `${parsed.groupPath}/${parsed.artifactId}`;
      const versions = artifacts.get(name) ?? new Map<string, number>();
      versions.set(parsed.version, Math.min(versions.get(parsed.version) ?? Infinity, record.createdAt));
      artifacts.set(name, versions);
    }
    for (const [name, versions] of artifacts) {
      yield [...versions]
        .map(([version, publishedAt]): HostedVersion => ({ package: name, version, publishedAt }))
        .sort((a, b) => compareMavenVersions(b.version, a.version));
    }
  },
  async remove(repo, { package: name, version }) {
    for (const record of await repo.list({ prefix: `${name}/${version}/` })) await repo.prune(record.path);
  },
};
