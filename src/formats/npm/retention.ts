import semver from 'semver';
import type { RetentionRules } from '../format-module.js';
import { byPackage } from '../package-groups.js';
import { parseVersionPath } from './names.js';
import { unpublishVersion } from './publish.js';

/** npm's hosted versions are their manifests; removing one unpublishes it (tarball, deprecation, dist-tags follow). */
export const npmRetention: RetentionRules = {
  async *versions(listing) {
    // A version is its manifest, `.npm/<name>/versions/<version>.json`.
    for await (const { name, records } of byPackage(listing, (path) => parseVersionPath(path)?.name)) {
      const versions = records.map((record) => ({ package: name, version: parseVersionPath(record.path)!.version, publishedAt: record.createdAt }));
      yield versions.sort((a, b) => semver.rcompare(a.version, b.version, { loose: true }));
    }
  },
  remove: (repo, { package: name, version }) => unpublishVersion(repo, name, version, true),
};
