import { Parser } from 'htmlparser2';

/**
 * The simple repository API's documents, both ways: PEP 503 HTML and PEP 691 JSON parsed from an upstream,
 * and written for clients. Pure, so it runs inline or in a worker thread.
 */

export const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
export const SIMPLE_HTML = 'application/vnd.pypi.simple.v1+html';

/** One distribution file of a project, as an index lists it. */
export interface ProjectFile {
  filename: string;
  /** Absolute: the upstream's own URL when parsed, Shelf's (BASE_URL_PLACEHOLDER-based) when written. */
  url: string;
  hashes: Record<string, string>;
  requiresPython?: string;
  /** PEP 592: true, or the reason. */
  yanked?: string | true;
  /** PEP 658/714: the core metadata file exists at `<url>.metadata`, with these hashes when known. */
  coreMetadata?: Record<string, string> | true;
  size?: number;
  uploadTime?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `sha256=<hex>` (PEP 503 fragments and PEP 658 attributes) as a hash record; `true` for a bare "true". */
function hashAttribute(value: string | undefined): Record<string, string> | true | undefined {
  if (value === undefined) return undefined;
  const match = /^(\w+)=([0-9a-fA-F]+)$/.exec(value.trim());
  if (match) return { [match[1]!.toLowerCase()]: match[2]!.toLowerCase() };
  return value.trim().toLowerCase() === 'true' ? true : undefined;
}

function resolve(href: string, base: string): URL | undefined {
  try {
    return new URL(href, base);
  } catch {
    return undefined;
  }
}

/** A project page as an upstream serves it, PEP 691 JSON or PEP 503 HTML, with links resolved against `pageUrl`. */
export function parseProjectPage(body: string, contentType: string, pageUrl: string): ProjectFile[] {
  return contentType.includes('json') ? parseJsonPage(body, pageUrl) : parseHtmlPage(body, pageUrl);
}

function parseJsonPage(body: string, pageUrl: string): ProjectFile[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return [];
  }
  if (!isObject(doc) || !Array.isArray(doc.files)) return [];
  const files: ProjectFile[] = [];
  for (const entry of doc.files) {
    if (!isObject(entry) || typeof entry.filename !== 'string' || typeof entry.url !== 'string') continue;
    const url = resolve(entry.url, pageUrl);
    if (!url) continue;
    const hashes = isObject(entry.hashes)
      ? Object.fromEntries(Object.entries(entry.hashes).filter((e): e is [string, string] => typeof e[1] === 'string'))
      : {};
    const metadata = entry['core-metadata'] ?? entry['dist-info-metadata'];
    const coreMetadata = metadata === true ? true : isObject(metadata) ? (metadata as Record<string, string>) : undefined;
    const yanked = entry.yanked === true ? true : typeof entry.yanked === 'string' ? entry.yanked : undefined;
    files.push({
      filename: entry.filename,
      url: withoutFragment(url),
      hashes,
      ...(typeof entry['requires-python'] === 'string' && { requiresPython: entry['requires-python'] }),
      ...(yanked !== undefined && { yanked }),
      ...(coreMetadata !== undefined && { coreMetadata }),
      ...(typeof entry.size === 'number' && { size: entry.size }),
      ...(typeof entry['upload-time'] === 'string' && { uploadTime: entry['upload-time'] }),
    });
  }
  return files;
}

function parseHtmlPage(body: string, pageUrl: string): ProjectFile[] {
  const files: ProjectFile[] = [];
  let anchor: Record<string, string> | undefined;
  let text = '';
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'a') {
          anchor = attributes;
          text = '';
        }
      },
      ontext(chunk) {
        if (anchor) text += chunk;
      },
      onclosetag(name) {
        if (name !== 'a' || !anchor) return;
        const file = fileFromAnchor(anchor, text.trim(), pageUrl);
        if (file) files.push(file);
        anchor = undefined;
      },
    },
    { decodeEntities: true, lowerCaseAttributeNames: true },
  );
  parser.write(body);
  parser.end();
  return files;
}

function fileFromAnchor(attributes: Record<string, string>, text: string, pageUrl: string): ProjectFile | undefined {
  const url = attributes.href === undefined ? undefined : resolve(attributes.href, pageUrl);
  if (!url) return undefined;
  const filename = text || decodeURIComponent(url.pathname.split('/').pop() ?? '');
  const fragment = hashAttribute(url.hash.slice(1));
  const coreMetadata = hashAttribute(attributes['data-core-metadata'] ?? attributes['data-dist-info-metadata']);
  const yanked = attributes['data-yanked'];
  return {
    filename,
    url: withoutFragment(url),
    hashes: fragment === true || fragment === undefined ? {} : fragment,
    ...(attributes['data-requires-python'] && { requiresPython: attributes['data-requires-python'] }),
    ...(yanked !== undefined && { yanked: yanked === '' ? true : yanked }),
    ...(coreMetadata !== undefined && { coreMetadata }),
  };
}

function withoutFragment(url: URL): string {
  const copy = new URL(url);
  copy.hash = '';
  return copy.href;
}

/** A project list (`/simple/`) as an upstream serves it: the project names. */
export function parseProjectList(body: string, contentType: string): string[] {
  if (contentType.includes('json')) {
    try {
      const doc: unknown = JSON.parse(body);
      if (!isObject(doc) || !Array.isArray(doc.projects)) return [];
      return doc.projects.flatMap((p) => (isObject(p) && typeof p.name === 'string' ? [p.name] : []));
    } catch {
      return [];
    }
  }
  const names: string[] = [];
  let inAnchor = false;
  let text = '';
  const parser = new Parser({
    onopentag(name) {
      if (name === 'a') [inAnchor, text] = [true, ''];
    },
    ontext(chunk) {
      if (inAnchor) text += chunk;
    },
    onclosetag(name) {
      if (name === 'a' && inAnchor && text.trim()) names.push(text.trim());
      if (name === 'a') inAnchor = false;
    },
  });
  parser.write(body);
  parser.end();
  return names;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const hashText = (hashes: Record<string, string>) => {
  const algorithm = hashes.sha256 ? 'sha256' : Object.keys(hashes)[0];
  return algorithm ? `${algorithm}=${hashes[algorithm]}` : undefined;
};

/** PEP 503 HTML with the PEP 592 and PEP 658/714 attributes. */
export function renderProjectHtml(project: string, files: ProjectFile[]): string {
  const links = files.map((file) => {
    const fragment = hashText(file.hashes);
    let attributes = '';
    if (file.requiresPython) attributes += ` data-requires-python="${escapeHtml(file.requiresPython)}"`;
    if (file.yanked !== undefined) attributes += ` data-yanked="${file.yanked === true ? '' : escapeHtml(file.yanked)}"`;
    if (file.coreMetadata !== undefined) {
      const value = file.coreMetadata === true ? 'true' : (hashText(file.coreMetadata) ?? 'true');
      // PEP 714: only the new name. pip 22.3 to 23.1 (Debian 12's pip among them) crash on the legacy one.
      attributes += ` data-core-metadata="${escapeHtml(value)}"`;
    }
    const href = `${file.url}${fragment ? `#${fragment}` : ''}`;
    return `    <a href="${escapeHtml(href)}"${attributes}>${escapeHtml(file.filename)}</a><br/>\n`;
  });
  return (
    `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n` +
    `    <title>Links for ${escapeHtml(project)}</title>\n  </head>\n  <body>\n    <h1>Links for ${escapeHtml(project)}</h1>\n` +
    `${links.join('')}  </body>\n</html>\n`
  );
}

/** PEP 691 JSON; version 1.1 (PEP 700: sizes and versions) when every file's size is known. */
export function renderProjectJson(project: string, files: ProjectFile[], versions: string[]): string {
  const complete = files.every((f) => f.size !== undefined);
  return JSON.stringify({
    meta: { 'api-version': complete ? '1.1' : '1.0' },
    name: project,
    ...(complete && { versions }),
    files: files.map((f) => ({
      filename: f.filename,
      url: f.url,
      hashes: f.hashes,
      ...(f.requiresPython && { 'requires-python': f.requiresPython }),
      ...(f.coreMetadata !== undefined && { 'core-metadata': f.coreMetadata }),
      ...(f.yanked !== undefined && { yanked: f.yanked }),
      ...(complete && { size: f.size }),
      ...(f.uploadTime && { 'upload-time': f.uploadTime }),
    })),
  });
}

/** `projects` must be normalized names: each is also its page's relative link. */
export function renderProjectListHtml(projects: string[]): string {
  const links = projects.map((p) => `    <a href="${escapeHtml(p)}/">${escapeHtml(p)}</a><br/>\n`).join('');
  return `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n    <title>Simple index</title>\n  </head>\n  <body>\n${links}  </body>\n</html>\n`;
}

export function renderProjectListJson(projects: string[]): string {
  return JSON.stringify({ meta: { 'api-version': '1.1' }, projects: projects.map((name) => ({ name })) });
}

/**
 * Which form a client wants, by `Accept` with q-values (PEP 691): JSON, or HTML (the default, and what
 * `text/html` and `*\/*` get). An Accept that names neither gets undefined (406).
 */
export function negotiateSimple(accept: string | undefined): 'json' | 'html' | undefined {
  if (!accept) return 'html';
  let best: { form: 'json' | 'html'; q: number } | undefined;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().split(';').map((s) => s.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1);
    const form = type === SIMPLE_JSON ? 'json' : [SIMPLE_HTML, 'text/html', '*/*', 'text/*'].includes(type) ? 'html' : undefined;
    if (form && q > 0 && (!best || q > best.q)) best = { form, q };
  }
  return best?.form;
}
