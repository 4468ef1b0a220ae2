import type { RepositoryConfig } from '../../config/schema.js';
import type { FormatRules } from '../../repos/repository.js';
import { pypiPaths } from './names.js';
import { SIMPLE_HTML, SIMPLE_JSON } from './simple-api.js';

/** Upstream index pages are asked for as PEP 691 JSON first; PEP 503 HTML is parsed as well. */
const INDEX_ACCEPT = `${SIMPLE_JSON}, ${SIMPLE_HTML};q=0.2, text/html;q=0.01`;
const PAGE = /^\.pypi\/([^/]+)\/page$/;
const YANK = /^\.pypi\/[^/]+\/yanked\//;

/**
 * Index pages and the project list change and are revalidated after `metadataTtlSeconds`; distribution
 * files and their metadata never change. A file name is uploaded once (PyPI's rule), whatever its content.
 */
export function pypiRules(config: RepositoryConfig): FormatRules {
  return {
    freshForSeconds: (path) => (config.type === 'remote' && path.startsWith('.pypi/') ? config.metadataTtlSeconds : null),
    defaultContentType: (path) =>
      path.endsWith('.json') ? 'application/json' : path.startsWith('.pypi/') ? 'text/html' : path.endsWith('.metadata') ? 'text/plain; charset=utf-8' : 'application/octet-stream',
    overwritePolicy: (path) =>
      path.startsWith('packages/') && !path.endsWith('.metadata') ? 'create-only' : YANK.test(path) ? 'always' : 'same-content-only',
    upstreamTarget: (path) => {
      if (path === pypiPaths.projectList) return { path: '', headers: { accept: INDEX_ACCEPT } };
      const page = PAGE.exec(path);
      if (page) return { path: `${encodeURIComponent(page[1]!)}/`, headers: { accept: INDEX_ACCEPT } };
      return { path: path.split('/').map(encodeURIComponent).join('/') };
    },
  };
}
