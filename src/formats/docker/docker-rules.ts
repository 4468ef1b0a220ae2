import type { RepositoryConfig } from '../../config/schema.js';
import type { FormatRules } from '../../repos/repository.js';
import { ACCEPTED_MANIFEST_TYPES, MEDIA_TYPES } from './manifest.js';
import { parseDockerPath } from './names.js';

const DEFAULT_TAG_TTL_SECONDS = 600;

/**
 * Docker Hub keeps official images under `library/`; its clients add the prefix to one-component names
 * (`nginx` → `library/nginx`), so a Docker Hub remote does the same.
 */
function upstreamImageNamer(url: string): (image: string) => string {
  const isDockerHub = /(^|\.)docker\.io$/.test(new URL(url).hostname);
  return (image) => (isDockerHub && !image.includes('/') ? `library/${image}` : image);
}

/** The release-repository rule for images: a pushed tag keeps its digest. */
export const hasImmutableTags = (config: RepositoryConfig) => config.type === 'local' && config.immutableTags === true;

/**
 * Digest-addressed content (blobs, manifests by digest) never changes: cached forever, verified against its
 * digest. Tags and tag lists move: cached for `tagTtlSeconds`, then revalidated by a HEAD that compares
 * Docker-Content-Digest, so an unchanged tag costs no pull.
 */
export function dockerRules(config: RepositoryConfig): FormatRules {
  const tagTtl = (config.type === 'remote' ? config.tagTtlSeconds : undefined) ?? DEFAULT_TAG_TTL_SECONDS;
  const upstreamImageName = config.type === 'remote' ? upstreamImageNamer(config.url) : undefined;
  return {
    freshForSeconds(path) {
      const kind = parseDockerPath(path)?.kind;
      return kind === 'tag' || kind === 'tagList' || kind === 'upstreamReferrers' ? tagTtl : null;
    },
    defaultContentType: () => 'application/octet-stream',
    overwritePolicy(path) {
      const tagged = parseDockerPath(path)?.kind === 'tag';
      return tagged && hasImmutableTags(config) ? 'same-content-only' : 'always';
    },
    upstreamTarget(path) {
      const parsed = parseDockerPath(path);
      if (!parsed || !upstreamImageName) return { path };
      const name = upstreamImageName(parsed.image);
      const authScope = `repository:${name}:pull`;
      switch (parsed.kind) {
        case 'blob':
          return { path: `v2/${name}/blobs/${parsed.reference}`, authScope };
        case 'tagList':
          return { path: `v2/${name}/tags/list`, authScope };
        case 'upstreamReferrers':
          return { path: `v2/${name}/referrers/${parsed.reference}`, headers: { accept: MEDIA_TYPES.ociIndex }, authScope };
        default:
          return {
            path: `v2/${name}/manifests/${parsed.reference}`,
            headers: { accept: ACCEPTED_MANIFEST_TYPES.join(', ') },
            authScope,
          };
      }
    },
    // The registry names the digest of blobs and manifests; tag lists and referrers indexes have none (and no cheap HEAD).
    digestHeader: (path) => {
      const kind = parseDockerPath(path)?.kind;
      return kind === 'tagList' || kind === 'upstreamReferrers' ? undefined : 'docker-content-digest';
    },
    // Clients name layers by sha256 only: the rest need not hold up a pull.
    otherDigestsLater: true,
  };
}
