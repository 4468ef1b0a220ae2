import { createHash } from 'node:crypto';
import semver from 'semver';
import { BASE_URL_PLACEHOLDER } from '../document-views.js';

/**
 * Builds the packument a repository serves for one package from what its sources hold: whole documents
 * cached from upstream registries, and versions published here. Pure and synchronous, so it runs inline
 * for small documents and in a worker thread for large ones (see packument-views.ts).
 */


export interface HostedVersion {
  /** The version's manifest as published (JSON). */
  manifest: Uint8Array;
  publishedAt: number;
  deprecated?: string;
}

export type PackumentSource =
  /** A full packument as an upstream registry serves it (served without the upstream: only versions whose tarballs are present). */
  | { repo: string; kind: 'document'; document: Uint8Array; presentTarballs?: string[] }
  /** Versions published to a local repository. */
  | { repo: string; kind: 'hosted'; versions: HostedVersion[]; distTags: Record<string, string>; modifiedAt: number };

export interface PackumentTask {
  name: string;
  /** The repository the client asked, whose URL tarball links point at. */
  servedRepo: string;
  /** In priority order: the first source that has a version owns it. */
  sources: PackumentSource[];
}

/** Where the bytes of one tarball come from, and what they must hash to. */
export interface TarballRef {
  version: string;
  /** The repository (a virtual repository's member) that owns the version. */
  repo: string;
  integrity?: string;
  shasum?: string;
  /** The upstream's own URL for it (remote sources). */
  upstreamUrl?: string;
}

/** What `npm search` shows of a package. */
export interface PackageSummary {
  name: string;
  version: string;
  description?: string;
  keywords?: string[];
  date: string;
  links: Record<string, string>;
  maintainers?: unknown[];
}

export interface PackumentView {
  name: string;
  texts: {
    /** The full document (`application/json`), tarball URLs starting with BASE_URL_PLACEHOLDER. */
    full: string;
    /** The abbreviated install document (`application/vnd.npm.install-v1+json`). */
    corgi: string;
  };
  /** Where each version's manifest lies in `texts.full` (start, end), for `GET /<name>/<version>`. */
  versionSpans: Record<string, [number, number]>;
  distTags: Record<string, string>;
  /** By tarball file name. */
  tarballs: Record<string, TarballRef>;
  etag: string;
  rev: string;
  summary: PackageSummary;
}

/** Fields of a version that `npm install` needs; the rest stay in the full document only. */
const CORGI_VERSION_FIELDS = [
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies',
  'bundleDependencies', 'bundledDependencies', 'peerDependencies', 'peerDependenciesMeta', 'acceptDependencies',
  'bin', 'directories', 'dist', 'engines', 'os', 'cpu', 'libc', 'funding', 'license', '_hasShrinkwrap',
  'hasInstallScript',
];

/** Package-level fields, taken from the source that owns the package (or from its latest hosted version). */
const PACKAGE_FIELDS = [
  'description', 'readme', 'readmeFilename', 'homepage', 'keywords', 'repository', 'author', 'bugs',
  'license', 'maintainers', 'contributors',
];

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

type Json = Record<string, unknown>;

interface ParsedSource {
  repo: string;
  versions: Map<string, Json>;
  distTags: Record<string, string>;
  time: Record<string, string>;
  packageFields: Json;
}

/** The view, or undefined when no source has a version of the package. */
export function buildPackumentView(task: PackumentTask): PackumentView | undefined {
  const parsed = task.sources.map((source) => parseSource(task.name, source)).filter((s) => s.versions.size > 0);
  const [owner] = parsed;
  if (!owner) return undefined;

  const versions = new Map<string, Json>();
  const tarballs: Record<string, TarballRef> = {};
  const time: Record<string, string> = {};
  let created: string | undefined;
  let modified: string | undefined;
  for (const source of parsed) {
    for (const [version, manifest] of source.versions) {
      if (versions.has(version)) continue;
      const file = tarballFile(manifest);
      if (!file) continue;
      const dist = manifest.dist as Json;
      tarballs[file] = {
        version,
        repo: source.repo,
        ...(typeof dist.integrity === 'string' && { integrity: dist.integrity }),
        ...(typeof dist.shasum === 'string' && { shasum: dist.shasum }),
        ...(typeof dist.tarball === 'string' && { upstreamUrl: dist.tarball }),
      };
      versions.set(version, {
        ...manifest,
        dist: { ...dist, tarball: `${BASE_URL_PLACEHOLDER}/${task.servedRepo}/${task.name}/-/${file}` },
      });
      if (source.time[version]) time[version] = source.time[version];
    }
    created = earliest(created, source.time.created);
    modified = latestOf(modified, source.time.modified);
  }
  if (versions.size === 0) return undefined;

  const distTags = mergeDistTags(parsed, versions);
  const latest = distTags.latest!;
  const now = new Date().toISOString();
  const times: Record<string, string> = { created: created ?? modified ?? now, modified: modified ?? created ?? now, ...time };

  // Built piece by piece so that each version's place in the text is known.
  const versionSpans: Record<string, [number, number]> = {};
  let body = `,"dist-tags":${JSON.stringify(distTags)},"versions":{`;
  let first = true;
  for (const [version, manifest] of versions) {
    body += `${first ? '' : ','}${JSON.stringify(version)}:`;
    first = false;
    const start = body.length;
    body += JSON.stringify(manifest);
    versionSpans[version] = [start, body.length];
  }
  body += `},"time":${JSON.stringify(times)}`;
  for (const field of PACKAGE_FIELDS) {
    const value = owner.packageFields[field];
    if (value !== undefined) body += `,${JSON.stringify(field)}:${JSON.stringify(value)}`;
  }
  body += '}';
  const digest = createHash('sha256').update(body).digest('hex');
  const rev = `${versions.size}-${digest.slice(0, 32)}`;
  const head = `{"_id":${JSON.stringify(task.name)},"_rev":${JSON.stringify(rev)},"name":${JSON.stringify(task.name)}`;
  for (const span of Object.values(versionSpans)) {
    span[0] += head.length;
    span[1] += head.length;
  }

  const corgiVersions: Json = {};
  for (const [version, manifest] of versions) corgiVersions[version] = corgiManifest(manifest);
  const corgi = JSON.stringify({ name: task.name, modified: times.modified, 'dist-tags': distTags, versions: corgiVersions });

  const latestManifest = versions.get(latest)!;
  return {
    name: task.name,
    texts: { full: head + body, corgi },
    versionSpans,
    distTags,
    tarballs,
    etag: `"${digest.slice(0, 40)}"`,
    rev,
    summary: summarize(task.name, latest, latestManifest, owner.packageFields, times[latest] ?? times.modified!),
  };
}

function parseSource(name: string, source: PackumentSource): ParsedSource {
  if (source.kind === 'hosted') return parseHosted(source);
  const doc = parseJson(source.document);
  if (!doc || (doc.name !== undefined && doc.name !== name)) {
    return { repo: source.repo, versions: new Map(), distTags: {}, time: {}, packageFields: {} };
  }
  const versions = new Map<string, Json>();
  const present = source.presentTarballs && new Set(source.presentTarballs);
  if (isObject(doc.versions)) {
    for (const [version, manifest] of Object.entries(doc.versions)) {
      if (!isObject(manifest) || semver.valid(version, { loose: true }) === null) continue;
      if (present && !present.has(tarballFile(manifest) ?? '')) continue;
      versions.set(version, manifest);
    }
  }
  return {
    repo: source.repo,
    versions,
    distTags: stringRecord(doc['dist-tags']),
    time: stringRecord(doc.time),
    packageFields: pick(doc, PACKAGE_FIELDS),
  };
}

function parseHosted(source: Extract<PackumentSource, { kind: 'hosted' }>): ParsedSource {
  const versions = new Map<string, Json>();
  const time: Record<string, string> = {};
  let created: number | undefined;
  for (const hosted of [...source.versions].sort((a, b) => a.publishedAt - b.publishedAt)) {
    const manifest = parseJson(hosted.manifest);
    if (!manifest || typeof manifest.version !== 'string') continue;
    const { deprecated: _published, ...rest } = manifest;
    versions.set(manifest.version, hosted.deprecated ? { ...rest, deprecated: hosted.deprecated } : rest);
    time[manifest.version] = new Date(hosted.publishedAt).toISOString();
    created ??= hosted.publishedAt;
  }
  if (created !== undefined) time.created = new Date(created).toISOString();
  time.modified = new Date(source.modifiedAt).toISOString();
  const latest = source.distTags.latest ?? highestVersion([...versions.keys()]);
  const latestManifest = (latest !== undefined && versions.get(latest)) || {};
  return { repo: source.repo, versions, distTags: source.distTags, time, packageFields: pick(latestManifest, PACKAGE_FIELDS) };
}

/**
 * The owner's dist-tags, then tags only later sources set; tags naming a version nobody serves are dropped,
 * and `latest` always names a version (the highest release when no source says).
 */
function mergeDistTags(sources: ParsedSource[], versions: Map<string, Json>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const source of sources) {
    for (const [tag, version] of Object.entries(source.distTags)) {
      if (!(tag in tags) && versions.has(version)) tags[tag] = version;
    }
  }
  tags.latest ??= highestVersion([...versions.keys()])!;
  return tags;
}

/** The highest release, or the highest pre-release when there is no release. */
export function highestVersion(versions: string[]): string | undefined {
  const sorted = versions.filter((v) => semver.valid(v, { loose: true })).sort((a, b) => semver.rcompare(a, b, { loose: true }));
  return sorted.find((v) => semver.prerelease(v, { loose: true }) === null) ?? sorted[0];
}

function tarballFile(manifest: Json): string | undefined {
  const dist = manifest.dist;
  if (!isObject(dist) || typeof dist.tarball !== 'string') return undefined;
  try {
    const file = decodeURIComponent(new URL(dist.tarball).pathname.split('/').pop() ?? '');
    return /^[A-Za-z0-9][A-Za-z0-9._~+-]*\.tgz$/.test(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

function corgiManifest(manifest: Json): Json {
  const corgi = pick(manifest, CORGI_VERSION_FIELDS);
  const scripts = manifest.scripts;
  if (corgi.hasInstallScript === undefined && isObject(scripts) && INSTALL_SCRIPTS.some((s) => s in scripts)) {
    corgi.hasInstallScript = true;
  }
  return corgi;
}

function summarize(name: string, version: string, manifest: Json, fields: Json, date: string): PackageSummary {
  const links: Record<string, string> = {};
  const homepage = fields.homepage ?? manifest.homepage;
  if (typeof homepage === 'string') links.homepage = homepage;
  const repository = fields.repository ?? manifest.repository;
  const repoUrl = typeof repository === 'string' ? repository : isObject(repository) ? repository.url : undefined;
  if (typeof repoUrl === 'string') links.repository = repoUrl;
  const description = fields.description ?? manifest.description;
  const keywords = fields.keywords ?? manifest.keywords;
  const maintainers = fields.maintainers ?? manifest.maintainers;
  return {
    name,
    version,
    ...(typeof description === 'string' && { description }),
    ...(Array.isArray(keywords) && { keywords: keywords.filter((k): k is string => typeof k === 'string') }),
    date,
    links,
    ...(Array.isArray(maintainers) && { maintainers }),
  };
}

function parseJson(bytes: Uint8Array): Json | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function stringRecord(value: unknown): Record<string, string> {
  if (!isObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function pick(source: Json, fields: string[]): Json {
  const out: Json = {};
  for (const field of fields) if (source[field] !== undefined) out[field] = source[field];
  return out;
}

const earliest = (a: string | undefined, b: string | undefined) => (!a ? b : !b ? a : a < b ? a : b);
const latestOf = (a: string | undefined, b: string | undefined) => (!a ? b : !b ? a : a > b ? a : b);
