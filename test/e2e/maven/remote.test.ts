import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = await startMavenUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'central', format: 'maven', type: 'remote', url: upstream.url, assumedOfflineSeconds: 0, negativeCacheTtlSeconds: 600 },
    { key: 'central-live', format: 'maven', type: 'remote', url: upstream.url, assumedOfflineSeconds: 0, metadataTtlSeconds: 0 },
  ],
});
t.teardown(() => shelf.stop());

/** Upstream requests nginx logged since `mark`, as `METHOD path STATUS`. */
function upstreamLog(): string[] {
  return readFileSync(`/tmp/static-upstream-${upstream.port}/access.log`, 'utf8')
    .split('\n')
    .map((line) => /"(\w+) (\S+) HTTP\/[\d.]+" (\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}

t.test('mvn package resolves plugins and dependencies through the remote; again with the upstream stopped', async (t) => {
  const project = mavenProject(t, `${shelf.url}/central/`);
  const cold = await project.mvn('package');
  t.equal(cold.code, 0, cold.stdout.slice(-3000));
  t.match(cold.stdout, 'Tests run: 1, Failures: 0');
  const log = upstreamLog();
  const junitJar = log.filter((l) => l.startsWith('GET /junit/junit/4.13.2/junit-4.13.2.jar '));
  t.same(junitJar, ['GET /junit/junit/4.13.2/junit-4.13.2.jar 200'], 'each artifact fetched once');
  const misses = log.filter((l) => l.endsWith(' 404'));

  // A second build from an empty local repository: everything is cached, and the upstream's 404s are remembered.
  project.clearLocalRepository();
  const warm = await project.mvn('package');
  t.equal(warm.code, 0, warm.stdout.slice(-3000));
  const again = upstreamLog().slice(log.length);
  t.same(again.filter((l) => l.endsWith(' 404')), [], `no missing path was asked again (${misses.length} were missing the first time)`);
  t.same(again.filter((l) => / \/[^ ]+\.(jar|pom) /.test(l)), [], 'no artifact was fetched again');

  upstream.stop();
  try {
    project.clearLocalRepository();
    const offline = await project.mvn('package');
    t.equal(offline.code, 0, `builds with the upstream stopped: ${offline.stdout.slice(-3000)}`);
  } finally {
    await upstream.start();
  }
});

t.test('checksums are served from the stored digests', async (t) => {
  const path = 'junit/junit/4.13.2/junit-4.13.2.jar';
  const bytes = Buffer.from(await (await fetch(`${shelf.url}/central/${path}`)).arrayBuffer());
  for (const algorithm of ['sha1', 'md5', 'sha256', 'sha512']) {
    const served = await (await fetch(`${shelf.url}/central/${path}.${algorithm}`)).text();
    t.equal(served, createHash(algorithm).update(bytes).digest('hex'), algorithm);
  }
  const metadata = Buffer.from(await (await fetch(`${shelf.url}/central/junit/junit/maven-metadata.xml`)).arrayBuffer());
  t.equal(await (await fetch(`${shelf.url}/central/junit/junit/maven-metadata.xml.sha1`)).text(), createHash('sha1').update(metadata).digest('hex'));
  t.equal((await fetch(`${shelf.url}/central/junit/junit/9.9/junit-9.9.jar.sha1`)).status, 404);
});

t.test('a release artifact that does not match the upstream .sha1 is refused and not cached', async (t) => {
  const path = 'commons-io/commons-io';
  const version = readFileSync(join(upstream.root, path, 'maven-metadata.xml'), 'utf8').match(/<release>([^<]+)<\/release>/)![1]!;
  const jar = join(upstream.root, path, version, `commons-io-${version}.jar`);
  const original = readFileSync(jar);
  unlinkSync(jar); // a hard link into the shared fixture: replace it, never write into it
  writeFileSync(jar, Buffer.concat([original.subarray(0, -8), Buffer.from('tampered')]));
  try {
    const url = `${shelf.url}/central-live/${path}/${version}/commons-io-${version}.jar`;
    // The jar is small, so it is checked before anything is sent: a 502 that says why.
    const first = await fetch(url);
    t.equal(first.status, 502);
    t.match(await first.text(), /sha1 of the content is/);
    const second = await fetch(url);
    t.equal(second.status, 502);
    t.equal(upstreamLog().filter((l) => l.startsWith(`GET /${path}/${version}/commons-io-${version}.jar `)).length, 2, 'asked upstream each time: nothing cached');
  } finally {
    unlinkSync(jar);
    writeFileSync(jar, original);
  }
  const good = await fetch(`${shelf.url}/central-live/${path}/${version}/commons-io-${version}.jar`);
  t.same(Buffer.from(await good.arrayBuffer()), original);
});
