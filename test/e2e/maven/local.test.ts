import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = await startMavenUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'maven-releases', format: 'maven', type: 'local', versionPolicy: 'release' },
    { key: 'maven-snapshots', format: 'maven', type: 'local', versionPolicy: 'snapshot', maxUniqueSnapshots: 2 },
    { key: 'maven-team', format: 'maven', type: 'local' },
    { key: 'central', format: 'maven', type: 'remote', url: upstream.url },
    { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-releases', 'maven-snapshots', 'maven-team', 'central'], defaultDeployRepo: 'maven-releases' },
  ],
});
t.teardown(() => shelf.stop());
const mirror = `${shelf.url}/maven/`;
const text = async (path: string) => (await fetch(`${shelf.url}/${path}`)).text();

t.test('mvn deploy of a release through the virtual; resolved back from a fresh local repository', async (t) => {
  const project = mavenProject(t, mirror);
  const deployed = await project.mvn('deploy', `-Dshelf.deployUrl=${mirror}`);
  t.equal(deployed.code, 0, deployed.stdout.slice(-3000));
  const metadata = await text('maven-releases/shelf/sample/hello/maven-metadata.xml');
  t.match(metadata, '<release>1.0.0</release>');
  t.match(metadata, /<versions>\s*<version>1\.0\.0<\/version>\s*<\/versions>/);
  const jar = Buffer.from(await (await fetch(`${shelf.url}/maven-releases/shelf/sample/hello/1.0.0/hello-1.0.0.jar`)).arrayBuffer());
  t.equal(await text('maven/shelf/sample/hello/1.0.0/hello-1.0.0.jar.sha256'), createHash('sha256').update(jar).digest('hex'));

  const consumer = mavenProject(t, mirror);
  const resolved = await consumer.mvn('dependency:get', '-Dartifact=shelf.sample:hello:1.0.0');
  t.equal(resolved.code, 0, resolved.stdout.slice(-3000));
  t.match(resolved.stdout, `${mirror}shelf/sample/hello/1.0.0/hello-1.0.0.jar`);

  writeFileSync(join(project.dir, 'src/main/java/shelf/sample/Extra.java'), 'package shelf.sample; class Extra {}\n');
  const redeploy = await project.mvn('deploy', `-Dshelf.deployUrl=${mirror}`);
  t.not(redeploy.code, 0, 'a release is deployed once');
  t.match(redeploy.stdout, /409/);
  t.same(Buffer.from(await (await fetch(`${shelf.url}/maven/shelf/sample/hello/1.0.0/hello-1.0.0.jar`)).arrayBuffer()), jar, 'the first jar is kept');
});

t.test('SNAPSHOT deploys get unique builds; the newest one resolves; old builds are pruned', async (t) => {
  const project = mavenProject(t, mirror, '1.1.0-SNAPSHOT');
  for (let i = 1; i <= 3; i++) {
    const deployed = await project.mvn('deploy', `-Dshelf.deployUrl=${shelf.url}/maven-snapshots/`);
    t.equal(deployed.code, 0, deployed.stdout.slice(-3000));
  }
  const metadata = await text('maven/shelf/sample/hello/1.1.0-SNAPSHOT/maven-metadata.xml');
  t.match(metadata, '<buildNumber>3</buildNumber>');
  const value = /<value>(1\.1\.0-\d{8}\.\d{6}-3)<\/value>/.exec(metadata)?.[1];
  t.ok(value, 'the jar and pom of build 3 are listed');
  const listing = (await (await fetch(`${shelf.url}/api/storage/maven-snapshots/shelf/sample/hello/1.1.0-SNAPSHOT/`)).json()) as { children: { uri: string }[] };
  const builds = new Set(listing.children.map((c) => /-(\d+)\.(jar|pom)$/.exec(c.uri)?.[1]).filter(Boolean));
  t.same([...builds].sort(), ['2', '3'], 'maxUniqueSnapshots: 2 keeps builds 2 and 3');

  const consumer = mavenProject(t, mirror);
  const resolved = await consumer.mvn('dependency:get', '-Dartifact=shelf.sample:hello:1.1.0-SNAPSHOT');
  t.equal(resolved.code, 0, resolved.stdout.slice(-3000));
  t.match(resolved.stdout, `hello-${value}.jar`, 'the newest build');
  t.equal((await fetch(`${shelf.url}/maven-snapshots/shelf/sample/hello/1.1.0-SNAPSHOT/hello-1.1.0-SNAPSHOT.jar`)).status, 200, 'the non-unique name serves the newest build');

  const artifactLevel = await text('maven/shelf/sample/hello/maven-metadata.xml');
  t.match(artifactLevel, /<version>1\.0\.0<\/version>\s*<version>1\.1\.0-SNAPSHOT<\/version>/, 'merged from both members, in Maven order');
  t.match(artifactLevel, '<latest>1.1.0-SNAPSHOT</latest>');
  t.match(artifactLevel, '<release>1.0.0</release>');
  t.equal(await text('maven/shelf/sample/hello/maven-metadata.xml.sha1'), createHash('sha1').update(artifactLevel).digest('hex'), 'checksums match the merged bytes');
});

t.test('version policies: a release repository refuses snapshots and the other way round', async (t) => {
  const snapshot = await fetch(`${shelf.url}/maven-releases/shelf/x/1.0-SNAPSHOT/x-1.0-20260101.000000-1.jar`, { method: 'PUT', body: 'x' });
  t.equal(snapshot.status, 400);
  const release = await fetch(`${shelf.url}/maven-snapshots/shelf/x/1.0/x-1.0.jar`, { method: 'PUT', body: 'x' });
  t.equal(release.status, 400);
});

t.test('metadata of two members lists the union of their versions', async (t) => {
  for (const version of ['2.0.0', '1.10.0', '1.9.0']) {
    const put = await fetch(`${shelf.url}/maven-team/shelf/sample/hello/${version}/hello-${version}.pom`, { method: 'PUT', body: `<project><version>${version}</version></project>` });
    t.equal(put.status, 201);
  }
  const merged = await text('maven/shelf/sample/hello/maven-metadata.xml');
  const versions = [...merged.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
  t.same(versions, ['1.0.0', '1.1.0-SNAPSHOT', '1.9.0', '1.10.0', '2.0.0'], 'in Maven order: 1.9 before 1.10');
  t.match(merged, '<latest>2.0.0</latest>');
  t.match(merged, '<release>2.0.0</release>');
});

t.test('deployed checksums are checked, not stored; metadata uploads are replaced by generated metadata', async (t) => {
  const base = `${shelf.url}/maven-team/shelf/other/1.0/other-1.0.jar`;
  t.equal((await fetch(base, { method: 'PUT', body: 'jar bytes' })).status, 201);
  t.equal((await fetch(`${base}.sha1`, { method: 'PUT', body: createHash('sha1').update('jar bytes').digest('hex') })).status, 201);
  const wrong = await fetch(`${base}.sha1`, { method: 'PUT', body: '0'.repeat(40) });
  t.equal(wrong.status, 400);
  t.equal(await (await fetch(`${base}.sha1`)).text(), createHash('sha1').update('jar bytes').digest('hex'));
  const lie = await fetch(`${shelf.url}/maven-team/shelf/other/maven-metadata.xml`, { method: 'PUT', body: '<metadata><versioning><versions><version>9.9</version></versions></versioning></metadata>' });
  t.equal(lie.status, 201);
  t.notMatch(await text('maven-team/shelf/other/maven-metadata.xml'), '9.9', 'metadata is generated from what is stored');
  // node:http sends the path as written (fetch would resolve the dot segments itself).
  const { hostname, port } = new URL(shelf.url);
  for (const path of ['/maven-team/shelf/%2e%2e/%2e%2e/x.jar', '/maven-team/shelf/..%2Fx/1/x-1.jar']) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ hostname, port, path, method: 'PUT' }, (res) => (res.resume(), resolve(res.statusCode!)));
      req.on('error', reject);
      req.end('x');
    });
    t.equal(status, 400, path);
  }
  t.equal((await fetch(`${shelf.url}/central/shelf/x/1/x-1.jar`, { method: 'PUT', body: 'x' })).status, 405);
});

t.test('mvn deploy of a SNAPSHOT through the virtual lands in the member that takes SNAPSHOTs', async (t) => {
  const project = mavenProject(t, mirror, '3.0.0-SNAPSHOT');
  const deployed = await project.mvn('deploy', `-Dshelf.deployUrl=${mirror}`);
  t.equal(deployed.code, 0, deployed.stdout.slice(-3000));
  t.match(await text('maven-snapshots/shelf/sample/hello/3.0.0-SNAPSHOT/maven-metadata.xml'), '<buildNumber>1</buildNumber>');
  t.equal((await fetch(`${shelf.url}/api/storage/maven-releases/shelf/sample/hello/3.0.0-SNAPSHOT/`)).status, 404, 'nothing in the releases');
});

t.test("a group's plugin list (plugin prefixes) is kept, merged, and served through the virtual", async (t) => {
  const groupMetadata = (plugins: [string, string][]) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<metadata><plugins>${plugins
      .map(([prefix, artifactId]) => `<plugin><name>${artifactId}</name><prefix>${prefix}</prefix><artifactId>${artifactId}</artifactId></plugin>`)
      .join('')}</plugins></metadata>\n`;
  const put = (repo: string, body: string) => fetch(`${shelf.url}/${repo}/com/corp/plugins/maven-metadata.xml`, { method: 'PUT', body });
  t.equal((await put('maven', groupMetadata([['lint', 'lint-maven-plugin']]))).status, 201);
  t.equal((await put('maven', groupMetadata([['docs', 'docs-maven-plugin']]))).status, 201);
  t.equal((await put('maven-team', groupMetadata([['lint', 'other-lint-plugin'], ['pack', 'pack-maven-plugin']]))).status, 201);
  const served = await text('maven/com/corp/plugins/maven-metadata.xml');
  for (const prefix of ['lint', 'docs', 'pack']) t.match(served, `<prefix>${prefix}</prefix>`, `prefix ${prefix}`);
  t.match(served, '<artifactId>lint-maven-plugin</artifactId>');
  const sha1 = await text('maven/com/corp/plugins/maven-metadata.xml.sha1');
  t.equal(sha1, createHash('sha1').update(served).digest('hex'), 'its checksum matches');
});
