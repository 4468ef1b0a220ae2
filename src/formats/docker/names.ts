import { ShelfError } from '../../errors.js';

/** One path component of an image name, as the distribution spec defines it. */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const isDigest = (reference: string) => DIGEST.test(reference);
export const isTag = (reference: string) => TAG.test(reference);

/** A manifest reference: a tag or a sha256 digest; true when it is a digest. */
export function checkReference(reference: string): boolean {
  if (isDigest(reference)) return true;
  if (isTag(reference)) return false;
  throw new ShelfError('MANIFEST_INVALID', 400, `invalid tag or digest "${reference}"`);
}

export function checkImageName(components: string[]): string {
  const name = components.join('/');
  if (components.length === 0 || name.length > 255 || !components.every((c) => NAME_COMPONENT.test(c))) {
    throw new ShelfError('NAME_INVALID', 400, `invalid image name "${name}"`);
  }
  return name;
}

/** A digest Shelf can address: sha256 only (its blob store is sha256-addressed). */
export function checkDigest(digest: string | null | undefined): string {
  if (digest && DIGEST.test(digest)) return digest;
  if (digest && ANY_DIGEST.test(digest) && !digest.startsWith('sha256:')) {
    throw new ShelfError('UNSUPPORTED', 400, `digest algorithm of ${digest} is not supported; use sha256`);
  }
  throw new ShelfError('DIGEST_INVALID', 400, `invalid digest "${digest ?? ''}"`);
}

export const hexOf = (digest: string) => digest.slice('sha256:'.length);

/**
 * Where an image's parts live inside a repository. The `_`-prefixed segments cannot occur in image names,
 * so one image's tags never collide with another image's name (as in distribution's `_manifests`).
 */
export const dockerPaths = {
  tag: (image: string, tag: string) => `${image}/_tags/${tag}`,
  tagsPrefix: (image: string) => `${image}/_tags/`,
  manifest: (image: string, digest: string) => `${image}/_manifests/${digest}`,
  blob: (image: string, digest: string) => `${image}/_blobs/${digest}`,
  /** The upstream's tag list of an image, cached by remote repositories. */
  upstreamTagList: (image: string) => `${image}/_taglist.json`,
  referrer: (image: string, subject: string, digest: string) => `${image}/_referrers/${subject}/${digest}`,
  referrersPrefix: (image: string, subject: string) => `${image}/_referrers/${subject}/`,
  /** The upstream's referrers index of a subject, cached by remote repositories. */
  upstreamReferrers: (image: string, subject: string) => `${image}/_upstreamreferrers/${subject}`,
};

export type DockerPathKind = 'tag' | 'manifest' | 'blob' | 'tagList' | 'referrer' | 'upstreamReferrers';

export interface ParsedDockerPath {
  image: string;
  kind: DockerPathKind;
  /** The tag or digest (for a referrer: the referring manifest's digest). */
  reference: string;
  /** For a referrer: the digest of the manifest it refers to. */
  subject?: string;
}

/** The inverse of `dockerPaths`, for paths of the repository layout. */
export function parseDockerPath(path: string): ParsedDockerPath | undefined {
  const match = /^(.+?)\/(_tags|_manifests|_blobs|_taglist\.json|_referrers|_upstreamreferrers)(?:\/(.+))?$/.exec(path);
  if (!match) return undefined;
  const [, image, marker, rest = ''] = match as unknown as [string, string, string, string | undefined];
  switch (marker) {
    case '_tags':
      return { image, kind: 'tag', reference: rest };
    case '_manifests':
      return { image, kind: 'manifest', reference: rest };
    case '_blobs':
      return { image, kind: 'blob', reference: rest };
    case '_taglist.json':
      return { image, kind: 'tagList', reference: '' };
    case '_upstreamreferrers':
      return { image, kind: 'upstreamReferrers', reference: rest };
    default: {
      const [subject = '', reference = ''] = rest.split('/');
      return { image, kind: 'referrer', reference, subject };
    }
  }
}

/** The image name from a tag path `<image>/_tags/<tag>`. */
export const imageOfTagPath = (path: string) => path.slice(0, path.lastIndexOf('/_tags/'));
