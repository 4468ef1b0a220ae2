import semver from 'semver';
import type { RetentionRules } from '../format-module.js';
import { byPackage } from '../package-groups.js';
import { unpublishVersion } from './publish.js';

/** `.npm/<name>/versions/<version>.json`: one published version of a hosted package. */
const VERSION_MANIFEST = /^\.npm\/((?:@[^/]+\/)?[^/]+)\/versions\/(.+)\.json$/;

/** npm's hosted versions are their manifests; removing one unpublishes it (tarball, deprecation, dist-tags follow). */
export const npmRetention: RetentionRules = {
  async *versions(listing) {
    for await (const { name, records } of byPackage(listing, (path) => VERSION_MANIFEST.exec(path)?.[1])) {
      const versions = records.map((record) => ({ package: name, version: VERSION_MANIFEST.exec(record.path)![2]!, publishedAt: record.createdAt }));
      yield versions.sort((a, b) => semver.rcompare(a.version, b.version, { loose: true }));
    }
  },
  remove: (repo, { package: name, version }) => unpublishVersion(repo, name, version, true),
};
