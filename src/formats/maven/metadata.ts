import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { buildOrder, isSnapshotVersion, parseTimestamped } from './layout.js';
import { compareMavenVersions } from './versions.js';

/**
 * `maven-metadata.xml`, both levels: the artifact's (versions, latest, release, lastUpdated) and a
 * SNAPSHOT version's (the newest timestamp and build number, and the newest file per classifier and
 * extension). Generated from what a repository holds, and merged across a virtual repository's members.
 */

export interface ArtifactMetadata {
  groupId: string;
  artifactId: string;
  versions: string[];
  lastUpdated: string;
}

export interface SnapshotMetadata {
  groupId: string;
  artifactId: string;
  version: string;
  timestamp: string;
  buildNumber: number;
  lastUpdated: string;
  snapshotVersions: { classifier?: string; extension: string; value: string; updated: string }[];
}

const builder = new XMLBuilder({ format: true, indentBy: '  ', ignoreAttributes: false, suppressEmptyNode: true });
const parser = new XMLParser({ isArray: (name) => name === 'version' || name === 'snapshotVersion' || name === 'plugin', parseTagValue: false });

/** One entry of a group-level `maven-metadata.xml`: how `mvn <prefix>:<goal>` finds a plugin of the group. */
export interface PluginEntry {
  name?: string;
  prefix: string;
  artifactId: string;
}

/**
 * The plugins a group-level `maven-metadata.xml` lists (maven-plugin-plugin deploys it with each plugin);
 * undefined for any other document.
 */
export function parsePlugins(text: string): PluginEntry[] | undefined {
  let doc: { metadata?: { plugins?: { plugin?: Record<string, unknown>[] } } };
  try {
    doc = parser.parse(text);
  } catch {
    return undefined;
  }
  const plugins = doc.metadata?.plugins?.plugin;
  if (!Array.isArray(plugins)) return undefined;
  return plugins
    .filter((p) => typeof p.prefix === 'string' && typeof p.artifactId === 'string')
    .map((p) => ({ ...(typeof p.name === 'string' && { name: p.name }), prefix: p.prefix as string, artifactId: p.artifactId as string }));
}

/** A group-level document over several lists of plugins: one entry per artifactId, the first list's winning. */
export function renderGroupMetadata(lists: PluginEntry[][]): string {
  const byArtifact = new Map<string, PluginEntry>();
  for (const list of lists) for (const plugin of list) if (!byArtifact.has(plugin.artifactId)) byArtifact.set(plugin.artifactId, plugin);
  const plugins = [...byArtifact.values()].sort((a, b) => a.artifactId.localeCompare(b.artifactId));
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ metadata: { plugins: { plugin: plugins } } })}`;
}

/** `yyyyMMddHHmmss` in UTC, Maven's lastUpdated. */
export const lastUpdated = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);

function document(metadata: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ metadata: { '@_modelVersion': '1.1.0', ...metadata } })}`;
}

export function renderArtifactMetadata(m: ArtifactMetadata): string {
  const versions = [...new Set(m.versions)].sort(compareMavenVersions);
  const releases = versions.filter((v) => !isSnapshotVersion(v));
  return document({
    groupId: m.groupId,
    artifactId: m.artifactId,
    versioning: {
      latest: versions.at(-1),
      release: releases.at(-1),
      versions: { version: versions },
      lastUpdated: m.lastUpdated,
    },
  });
}

export function renderSnapshotMetadata(m: SnapshotMetadata): string {
  return document({
    groupId: m.groupId,
    artifactId: m.artifactId,
    version: m.version,
    versioning: {
      snapshot: { timestamp: m.timestamp, buildNumber: m.buildNumber },
      lastUpdated: m.lastUpdated,
      snapshotVersions: {
        snapshotVersion: m.snapshotVersions.map((s) => ({ classifier: s.classifier, extension: s.extension, value: s.value, updated: s.updated })),
      },
    },
  });
}

/**
 * The snapshot metadata of one SNAPSHOT version from the file names it holds (each with its time of
 * deploy), or undefined when none is a timestamped build.
 */
export function snapshotMetadataOf(groupId: string, artifactId: string, version: string, files: { name: string; modifiedAt: number }[]): SnapshotMetadata | undefined {
  const base = version.slice(0, -'-SNAPSHOT'.length);
  const newest = new Map<string, { classifier?: string; extension: string; value: string; updated: string; order: string }>();
  let latest: { timestamp: string; buildNumber: number } | undefined;
  let updatedAt = 0;
  for (const file of files) {
    const parsed = parseTimestamped(artifactId, version, file.name);
    if (!parsed) continue;
    const order = buildOrder(parsed);
    const key = `${parsed.classifier ?? ''}:${parsed.extension}`;
    const value = `${base}-${parsed.timestamp}-${parsed.buildNumber}`;
    if (!newest.has(key) || newest.get(key)!.order < order) {
      newest.set(key, { ...(parsed.classifier && { classifier: parsed.classifier }), extension: parsed.extension, value, updated: lastUpdated(file.modifiedAt), order });
    }
    if (!latest || buildOrder(latest) < order) latest = parsed;
    updatedAt = Math.max(updatedAt, file.modifiedAt);
  }
  if (!latest) return undefined;
  return {
    groupId,
    artifactId,
    version,
    timestamp: latest.timestamp,
    buildNumber: latest.buildNumber,
    lastUpdated: lastUpdated(updatedAt),
    snapshotVersions: [...newest.values()].map(({ order: _order, ...s }) => s),
  };
}

/**
 * Several members' artifact-level metadata as one: the union of versions in Maven's order, latest and
 * release recomputed, the newest lastUpdated. Documents that do not parse are left out.
 */
export function mergeArtifactMetadata(documents: string[]): string | undefined {
  let merged: ArtifactMetadata | undefined;
  for (const text of documents) {
    let doc: { metadata?: { groupId?: string; artifactId?: string; versioning?: { versions?: { version?: string[] }; lastUpdated?: string } } };
    try {
      doc = parser.parse(text);
    } catch {
      continue;
    }
    const m = doc.metadata;
    if (!m?.artifactId) continue;
    const versions = m.versioning?.versions?.version ?? [];
    const updated = String(m.versioning?.lastUpdated ?? '');
    merged ??= { groupId: String(m.groupId ?? ''), artifactId: String(m.artifactId), versions: [], lastUpdated: '' };
    merged.versions.push(...versions.map(String));
    if (updated > merged.lastUpdated) merged.lastUpdated = updated;
  }
  return merged && renderArtifactMetadata(merged);
}

/** An artifact-level document listing only the versions `keep` accepts (latest and release recomputed); any other document as it is. */
export function keepVersions(text: string, keep: (version: string) => boolean): string {
  let doc: { metadata?: { groupId?: string; artifactId?: string; versioning?: { versions?: { version?: string[] }; lastUpdated?: string } } };
  try {
    doc = parser.parse(text);
  } catch {
    return text;
  }
  const m = doc.metadata;
  const versions = m?.versioning?.versions?.version;
  if (!m?.artifactId || !versions) return text;
  return renderArtifactMetadata({
    groupId: String(m.groupId ?? ''),
    artifactId: String(m.artifactId),
    versions: versions.map(String).filter(keep),
    lastUpdated: String(m.versioning?.lastUpdated ?? ''),
  });
}
