import t from 'tap';
import { parseArtifactPath, parseNonUniqueSnapshot, parseTimestamped, splitChecksum } from '../../../src/formats/maven/layout.js';
import { mergeArtifactMetadata, renderArtifactMetadata, snapshotMetadataOf } from '../../../src/formats/maven/metadata.js';
import { mergeMetadataTask } from '../../../src/formats/maven/metadata-worker.js';
import { compareMavenVersions } from '../../../src/formats/maven/versions.js';

t.test('ComparableVersion order', async (t) => {
  const shuffled = ['1.10', '1.0-SNAPSHOT', '1.0-rc1', '1.0.1', '1.0-alpha-1', '1.9', '1.0-sp1', '1.0-beta', '2.0-m1', '1.0', '1.0-milestone-2'];
  t.same([...shuffled].sort(compareMavenVersions), ['1.0-alpha-1', '1.0-beta', '1.0-milestone-2', '1.0-rc1', '1.0-SNAPSHOT', '1.0', '1.0-sp1', '1.0.1', '1.9', '1.10', '2.0-m1']);
  t.equal(compareMavenVersions('1.0', '1'), 0, 'trailing zeros do not count');
  t.equal(compareMavenVersions('1.0-ga', '1.0-final'), 0, 'release aliases');
  t.equal(compareMavenVersions('1.0-cr1', '1.0-rc1'), 0, 'cr is rc');
  t.ok(compareMavenVersions('1.0-foo', '1.0-sp') > 0, 'unknown qualifiers after known ones');
  t.ok(compareMavenVersions('1.0-a1', '1.0-b1') < 0, 'a1 is alpha-1, b1 beta-1');
});

t.test('layout: artifacts, checksums, timestamped snapshots', async (t) => {
  t.same(splitChecksum('g/a/1/a-1.jar.sha256'), { base: 'g/a/1/a-1.jar', algorithm: 'sha256' });
  t.same(splitChecksum('g/a/1/a-1.jar'), { base: 'g/a/1/a-1.jar' });
  t.same(parseArtifactPath('org/example/lib/1.2/lib-1.2-sources.jar'), { groupPath: 'org/example', artifactId: 'lib', version: '1.2', filename: 'lib-1.2-sources.jar' });
  t.equal(parseArtifactPath('org/example/lib/maven-metadata.xml'), undefined);
  t.equal(parseArtifactPath('a/b.jar'), undefined);
  t.same(parseTimestamped('lib', '1.2-SNAPSHOT', 'lib-1.2-20240102.030405-7-sources.jar'), { timestamp: '20240102.030405', buildNumber: 7, classifier: 'sources', extension: 'jar' });
  t.same(parseTimestamped('lib', '1.2-SNAPSHOT', 'lib-1.2-20240102.030405-7.pom'), { timestamp: '20240102.030405', buildNumber: 7, extension: 'pom' });
  t.equal(parseTimestamped('lib', '1.2', 'lib-1.2.jar'), undefined);
  t.same(parseNonUniqueSnapshot('lib', '1.2-SNAPSHOT', 'lib-1.2-SNAPSHOT-tests.jar'), { classifier: 'tests', extension: 'jar' });
});

t.test('SNAPSHOT metadata: the newest build, and the newest file per classifier and extension', async (t) => {
  const at = Date.UTC(2024, 0, 2, 3, 4, 5);
  const m = snapshotMetadataOf('org.example', 'lib', '1.2-SNAPSHOT', [
    { name: 'lib-1.2-20240101.000000-1.jar', modifiedAt: at },
    { name: 'lib-1.2-20240102.030405-2.jar', modifiedAt: at },
    { name: 'lib-1.2-20240102.030405-2.pom', modifiedAt: at },
    { name: 'lib-1.2-20240101.000000-1-sources.jar', modifiedAt: at },
    { name: 'maven-metadata.xml', modifiedAt: at },
  ])!;
  t.equal(m.timestamp, '20240102.030405');
  t.equal(m.buildNumber, 2);
  t.equal(m.lastUpdated, '20240102030405');
  t.same(m.snapshotVersions.map((s) => [s.classifier ?? '', s.extension, s.value]).sort(), [
    ['', 'jar', '1.2-20240102.030405-2'],
    ['', 'pom', '1.2-20240102.030405-2'],
    ['sources', 'jar', '1.2-20240101.000000-1'],
  ]);
  t.equal(snapshotMetadataOf('g', 'lib', '1.2-SNAPSHOT', [{ name: 'lib-1.2-SNAPSHOT.jar', modifiedAt: at }]), undefined);
});

t.test('artifact metadata: rendered, merged (union, latest and release recomputed, newest lastUpdated)', async (t) => {
  const a = renderArtifactMetadata({ groupId: 'g', artifactId: 'a', versions: ['1.9', '1.10-SNAPSHOT'], lastUpdated: '20240101000000' });
  t.match(a, '<latest>1.10-SNAPSHOT</latest>');
  t.match(a, '<release>1.9</release>');
  const b = renderArtifactMetadata({ groupId: 'g', artifactId: 'a', versions: ['1.10', '1.9'], lastUpdated: '20250101000000' });
  const merged = mergeArtifactMetadata([a, b, '<not xml', '<metadata/>'])!;
  t.same([...merged.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]), ['1.9', '1.10-SNAPSHOT', '1.10']);
  t.match(merged, '<latest>1.10</latest>');
  t.match(merged, '<release>1.10</release>');
  t.match(merged, '<lastUpdated>20250101000000</lastUpdated>');
  t.equal(mergeArtifactMetadata(['garbage']), undefined);
  const older = '<metadata><versioning><lastUpdated>20240101000000</lastUpdated></versioning></metadata>';
  const newer = '<metadata><versioning><lastUpdated>20250101000000</lastUpdated></versioning></metadata>';
  t.equal(mergeMetadataTask({ snapshotLevel: true, documents: [older, newer] }), newer, 'SNAPSHOT level: the newest member wins');
});
