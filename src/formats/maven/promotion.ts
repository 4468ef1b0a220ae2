import { badRequest } from '../../errors.js';
import type { PromotionRules } from '../format-module.js';
import { filesAt } from '../promotion-paths.js';

/**
 * Maven content is promoted by path (a file, or a folder such as a version's `group/artifact/version/`
 * with its POM and jars) or as `groupId:artifactId@version`; maven-metadata.xml is generated in both
 * repositories from what they then hold.
 */
export const mavenPromotion: PromotionRules = {
  async paths(source, selection) {
    if ('path' in selection) return filesAt(source, selection.path);
    const [groupId, artifactId, extra] = selection.package.split(':');
    if (!groupId || !artifactId || extra !== undefined) throw badRequest('a Maven version is promoted as groupId:artifactId@version');
    return filesAt(source, `${groupId.replaceAll('.', '/')}/${artifactId}/${selection.version}/`);
  },
};
