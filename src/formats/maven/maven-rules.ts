import type { RepositoryConfig } from '../../config/schema.js';
import type { FormatRules } from '../../repos/repository.js';
import { contentTypeOf, isMetadataPath, isSnapshotVersion, parseArtifactPath } from './layout.js';

/**
 * Release artifacts never change: cached forever by remotes, deployed once to local repositories.
 * `maven-metadata.xml` and everything of a SNAPSHOT version change, and are revalidated after
 * `metadataTtlSeconds`.
 */
export function mavenRules(config: RepositoryConfig): FormatRules {
  const mutable = (path: string) => {
    const artifact = parseArtifactPath(path);
    return isMetadataPath(path) || !artifact || isSnapshotVersion(artifact.version);
  };
  return {
    freshForSeconds: (path) => (config.type === 'remote' && mutable(path) ? config.metadataTtlSeconds : null),
    defaultContentType: contentTypeOf,
    overwritePolicy: (path) => (mutable(path) ? 'always' : 'same-content-only'),
  };
}
