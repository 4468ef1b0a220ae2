import { badRequest } from '../../errors.js';
import type { PromotionRules } from '../format-module.js';
import { existing } from '../promotion-paths.js';
import { npmPaths, parseVersionPath, tarballFileName, versionOfTarball } from './names.js';
import { setDistTag } from './publish.js';

/** `<name>/-/<file>`: a package's tarball path. */
const TARBALL = /^((?:@[^/]+\/)?[^/]+)\/-\/([^/]+)$/;

/**
 * An npm version is promoted whole (its manifest, tarball and deprecation), selected by `name@version` or
 * by its tarball path, so that the target's packument gains the version; dist-tags follow as asked.
 */
export const npmPromotion: PromotionRules = {
  async paths(source, selection) {
    let name: string;
    let version: string;
    if ('path' in selection) {
      const match = TARBALL.exec(selection.path);
      const tarballVersion = match && versionOfTarball(match[1]!, match[2]!);
      if (!tarballVersion) throw badRequest('an npm version is promoted by its tarball path or as name@version');
      [name, version] = [match![1]!, tarballVersion];
    } else {
      [name, version] = [selection.package, selection.version];
    }
    const manifest = npmPaths.version(name, version);
    if (!(await source.record(manifest))) return [];
    return existing(source, [manifest, npmPaths.tarball(name, tarballFileName(name, version)), npmPaths.deprecation(name, version)]);
  },
  async promoted(target, _selection, paths, distTags) {
    const manifest = paths.map(parseVersionPath).find(Boolean);
    if (!manifest) return;
    for (const tag of distTags) await setDistTag(target, manifest.name, tag, manifest.version);
  },
};
