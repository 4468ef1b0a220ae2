import type { RetentionRules } from '../format-module.js';
import { byPackage } from '../package-groups.js';
import { pypiPaths, versionOfFile } from './names.js';
import { compareVersions } from './versions.js';

/** `.pypi/<project>/files/<filename>.json`: what an upload recorded of one hosted file. */
const FILE_RECORD = /^\.pypi\/([^/]+)\/files\/(.+)\.json$/;

/** A PyPI release is every file of one version; removing it removes the files, their metadata, records and yank marks. */
export const pypiRetention: RetentionRules = {
  async *versions(listing) {
    for await (const { name, records } of byPackage(listing, (path) => FILE_RECORD.exec(path)?.[1])) {
      const published = new Map<string, number>();
      for (const record of records) {
        const version = versionOfFile(FILE_RECORD.exec(record.path)![2]!);
        if (version !== undefined) published.set(version, Math.min(published.get(version) ?? Infinity, record.createdAt));
      }
      yield [...published]
        .map(([version, publishedAt]) => ({ package: name, version, publishedAt }))
        .sort((a, b) => compareVersions(b.version, a.version));
    }
  },
  async remove(repo, { package: project, version }) {
    const prefix = `${pypiPaths.hostedPrefix(project)}files/`;
    for (const record of await repo.list({ prefix })) {
      const filename = record.path.slice(prefix.length, -'.json'.length);
      if (versionOfFile(filename) !== version) continue;
      for (const path of [pypiPaths.file(project, filename), pypiPaths.metadata(project, filename), pypiPaths.yank(project, filename), record.path]) {
        if (await repo.record(path)) await repo.prune(path);
      }
    }
  },
};
