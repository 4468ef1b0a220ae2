/** The Maven 2 repository layout: `group/as/path/artifactId/version/artifactId-version[-classifier].ext`. */

export const METADATA_FILE = 'maven-metadata.xml';
export const CHECKSUM_ALGORITHMS = { sha1: 'sha1', md5: 'md5', sha256: 'sha256', sha512: 'sha512' } as const;
export type MavenChecksum = keyof typeof CHECKSUM_ALGORITHMS;

/** `path` without a checksum extension, and the checksum it asks for, if any. */
export function splitChecksum(path: string): { base: string; algorithm?: MavenChecksum } {
  const match = /\.(sha1|md5|sha256|sha512)$/.exec(path);
  return match ? { base: path.slice(0, -match[0].length), algorithm: match[1] as MavenChecksum } : { base: path };
}

export const isMetadataPath = (path: string) => path === METADATA_FILE || path.endsWith(`/${METADATA_FILE}`);
export const isSnapshotVersion = (version: string) => version.endsWith('-SNAPSHOT');

export interface ArtifactPath {
  groupPath: string;
  artifactId: string;
  version: string;
  filename: string;
}

/** The coordinates of an artifact file, when the path is one (its file name starts with `artifactId-version` or, for snapshots, `artifactId-base`). */
export function parseArtifactPath(path: string): ArtifactPath | undefined {
  const parts = path.split('/');
  if (parts.length < 4) return undefined;
  const [filename, version, artifactId] = [parts.at(-1)!, parts.at(-2)!, parts.at(-3)!];
  const base = isSnapshotVersion(version) ? version.slice(0, -'-SNAPSHOT'.length) : version;
  if (!filename.startsWith(`${artifactId}-${base}`)) return undefined;
  return { groupPath: parts.slice(0, -3).join('/'), artifactId, version, filename };
}

/** A uniquely versioned snapshot file: `artifactId-1.0-20240101.123456-3[-classifier].ext`. */
export interface TimestampedFile {
  timestamp: string;
  buildNumber: number;
  classifier?: string;
  extension: string;
}

export function parseTimestamped(artifactId: string, version: string, filename: string): TimestampedFile | undefined {
  if (!isSnapshotVersion(version)) return undefined;
  const base = version.slice(0, -'-SNAPSHOT'.length);
  const prefix = `${artifactId}-${base}-`;
  if (!filename.startsWith(prefix)) return undefined;
  const match = /^(\d{8}\.\d{6})-(\d+)(?:-([^.]+))?\.(.+)$/.exec(filename.slice(prefix.length));
  if (!match) return undefined;
  return { timestamp: match[1]!, buildNumber: Number(match[2]), ...(match[3] && { classifier: match[3] }), extension: match[4]! };
}

/** Sorts timestamped builds oldest first, as text: the timestamp, then the build number. */
export const buildOrder = (build: { timestamp: string; buildNumber: number }) =>
  `${build.timestamp}-${String(build.buildNumber).padStart(10, '0')}`;

/** For a non-unique snapshot name (`artifactId-1.0-SNAPSHOT[-classifier].ext`): its classifier and extension. */
export function parseNonUniqueSnapshot(artifactId: string, version: string, filename: string): { classifier?: string; extension: string } | undefined {
  if (!isSnapshotVersion(version)) return undefined;
  const prefix = `${artifactId}-${version}`;
  if (!filename.startsWith(prefix)) return undefined;
  const match = /^(?:-([^.]+))?\.(.+)$/.exec(filename.slice(prefix.length));
  return match ? { ...(match[1] && { classifier: match[1] }), extension: match[2]! } : undefined;
}

export function contentTypeOf(path: string): string {
  if (path.endsWith('.pom') || path.endsWith('.xml')) return 'application/xml';
  if (path.endsWith('.jar') || path.endsWith('.war') || path.endsWith('.ear')) return 'application/java-archive';
  if (path.endsWith('.module')) return 'application/json';
  return 'application/octet-stream';
}
