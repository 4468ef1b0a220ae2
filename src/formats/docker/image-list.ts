import { checkImageName, isDigest, isTag } from './names.js';

/** One image an image list names: its name in the repository, and a tag or digest (or both, pinned). */
export interface ImageReference {
  line: string;
  image: string;
  tag?: string;
  digest?: string;
}

/**
 * Image references, one per line (`nginx:1.27`, `team/app@sha256:…`, `ghcr.io/x/y:1@sha256:…`); `#` starts a
 * comment. A leading registry host is dropped: the repository that is seeded through is the registry (a
 * remote of that host, or a virtual over it). No tag and no digest means `latest`, as docker pull has it.
 */
export function parseImageList(text: string): (ImageReference | { line: string; problem: string })[] {
  const references: (ImageReference | { line: string; problem: string })[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [nameAndTag = '', digest] = line.split('@');
    const components = nameAndTag.split('/');
    const first = components[0]!;
    if (components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) components.shift();
    const last = components.pop()!;
    const colon = last.indexOf(':');
    const tag = colon < 0 ? undefined : last.slice(colon + 1);
    const image = [...components, colon < 0 ? last : last.slice(0, colon)];
    if (!validName(image) || (tag !== undefined && !isTag(tag)) || (digest !== undefined && !isDigest(digest))) {
      references.push({ line, problem: 'not an image reference (name[:tag][@sha256:digest])' });
      continue;
    }
    references.push({ line, image: image.join('/'), ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }), ...(tag === undefined && digest === undefined && { tag: 'latest' }) });
  }
  return references;
}

function validName(components: string[]): boolean {
  try {
    checkImageName(components);
    return true;
  } catch {
    return false;
  }
}

/** `os/arch[/variant]`, as `--platform` names it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.split('/');
  if (!os || !architecture) throw new Error(`${text} is not a platform (os/arch[/variant], like linux/amd64)`);
  return { os, architecture, ...(variant && { variant }) };
}
