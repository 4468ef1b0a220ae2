/** A Maven artifact as a coordinate names it: `group:artifact:version[:classifier][@type]`. */
export interface Coordinate {
  line: string;
  groupId: string;
  artifactId: string;
  version: string;
  classifier?: string;
  type: string;
}

/** The file extension of the packaging types whose files are not named after them. */
const EXTENSIONS: Record<string, string> = { 'maven-plugin': 'jar', bundle: 'jar', 'test-jar': 'jar', 'ejb-client': 'jar', ejb: 'jar', 'java-source': 'jar', javadoc: 'jar' };
const PART = /^[A-Za-z0-9_.-]+$/;

/** Coordinates, one per line (`#` comments); a line that is not one comes back with its problem. */
export function parseCoordinates(text: string): (Coordinate | { line: string; problem: string })[] {
  const coordinates: (Coordinate | { line: string; problem: string })[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [gav = '', type = 'jar'] = line.split('@');
    const [groupId, artifactId, version, classifier, ...rest] = gav.split(':');
    if (!groupId || !artifactId || !version || rest.length > 0 || ![groupId, artifactId, version, classifier ?? 'x', type].every((part) => PART.test(part)) || version.includes('..')) {
      coordinates.push({ line, problem: 'not a coordinate (group:artifact:version[:classifier][@type])' });
      continue;
    }
    coordinates.push({ line, groupId, artifactId, version, ...(classifier && { classifier }), type });
  }
  return coordinates;
}

/** The repository paths of a coordinate: its POM, and its file unless it is the POM. */
export function coordinatePaths({ groupId, artifactId, version, classifier, type }: Coordinate): string[] {
  const folder = `${groupId.replaceAll('.', '/')}/${artifactId}/${version}`;
  const pom = `${folder}/${artifactId}-${version}.pom`;
  if (type === 'pom' && !classifier) return [pom];
  const resolvedClassifier = classifier ?? (type === 'test-jar' ? 'tests' : undefined);
  return [pom, `${folder}/${artifactId}-${version}${resolvedClassifier ? `-${resolvedClassifier}` : ''}.${EXTENSIONS[type] ?? type}`];
}
