import { badRequest } from '../../errors.js';
import type { PromotionRules } from '../format-module.js';
import { existing } from '../promotion-paths.js';
import { normalizeProject, pypiPaths, versionOfFile } from './names.js';

const FILE = /^packages\/([^/]+)\/([^/]+)$/;

/** A PyPI file goes with its core metadata and upload record; a release (`project@version`) is all its files. */
export const pypiPromotion: PromotionRules = {
  async paths(source, selection) {
    const companions = (project: string, filename: string) =>
      existing(source, [pypiPaths.file(project, filename), pypiPaths.metadata(project, filename), pypiPaths.fileRecord(project, filename)]);
    if ('path' in selection) {
      const match = FILE.exec(selection.path);
      if (!match) throw badRequest('a PyPI file is promoted by its path (packages/<project>/<file>), a release as project@version');
      return companions(match[1]!, match[2]!);
    }
    const project = normalizeProject(selection.package);
    const files = (await source.list({ prefix: `packages/${project}/` }))
      .map((record) => record.path.slice(`packages/${project}/`.length))
      .filter((filename) => !filename.endsWith('.metadata') && versionOfFile(filename) === selection.version);
    const paths: string[] = [];
    for (const filename of files) paths.push(...(await companions(project, filename)));
    return paths;
  },
};
