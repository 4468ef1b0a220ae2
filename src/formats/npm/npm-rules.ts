import type { RepositoryConfig } from '../../config/schema.js';
import type { FormatRules } from '../../repos/repository.js';
import { encodePackageName } from './names.js';

const PACKUMENT = /^\.npm\/((?:@[^/]+\/)?[^/]+)\/package\.json$/;

/**
 * Packuments change (new versions, moved dist-tags) and are revalidated after `metadataTtlSeconds`;
 * tarballs never change and are cached forever. A published version is written once: its manifest
 * path is create-only and its tarball keeps its content.
 */
export function npmRules(config: RepositoryConfig): FormatRules {
  return {
    freshForSeconds: (path) => (config.type === 'remote' && path.startsWith('.npm/') ? config.metadataTtlSeconds : null),
    defaultContentType: (path) => (path.startsWith('.npm/') ? 'application/json' : 'application/octet-stream'),
    overwritePolicy: (path) =>
      /^\.npm\/.+\/versions\/[^/]+\.json$/.test(path) ? 'create-only' : path.startsWith('.npm/') ? 'always' : 'same-content-only',
    upstreamTarget: (path) => {
      const packument = PACKUMENT.exec(path);
      if (packument) return { path: encodePackageName(packument[1]!), headers: { accept: 'application/json' } };
      return { path: path.split('/').map(encodeURIComponent).join('/') };
    },
  };
}
