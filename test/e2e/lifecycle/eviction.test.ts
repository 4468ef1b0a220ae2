import t from 'tap';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { startShelf } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

// A Maven Central cache bounded to a few MiB, filled past its limit by real builds: it is brought back under
// the limit (least recently downloaded first), a later build fetches what was evicted again, and hosted
// content is never touched.
const LIMIT = 3 * 1024 * 1024;
const upstream = await startMavenUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'maven-releases', format: 'maven', type: 'local' },
    { key: 'central', format: 'maven', type: 'remote', url: upstream.url, cache: { maxBytes: LIMIT } },
    { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-releases', 'central'], defaultDeployRepo: 'maven-releases' },
  ],
});
t.teardown(() => shelf.stop());
await new Identity(shelf.app.index).addUser({ name: 'root', password: 'root-password', admin: true });

interface RepoSummary {
  repoKey: string;
  usedSpace: number;
  filesCount: number;
  cacheMisses?: number;
}
async function summary(key: string): Promise<RepoSummary> {
  const res = await fetch(`${shelf.url}/api/storage/summary`, {
    headers: { authorization: `Basic ${Buffer.from('root:root-password').toString('base64')}` },
  });
  return ((await res.json()) as { repositoriesSummaryList: RepoSummary[] }).repositoriesSummaryList.find((r) => r.repoKey === key)!;
}

/** Eviction runs in the background after each cached file; waits (bounded) for it to settle under the limit. */
async function settledUnder(limit: number): Promise<RepoSummary> {
  for (let i = 0; i < 100; i++) {
    const central = await summary('central');
    if (central.usedSpace <= limit) return central;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return summary('central');
}

t.test('a build fills the cache past its limit; it is brought back under it; hosted content stays', async (t) => {
  const project = mavenProject(t, `${shelf.url}/maven/`);
  const deployed = await project.mvn('deploy', `-Dshelf.deployUrl=${shelf.url}/maven/`);
  t.equal(deployed.code, 0, deployed.stdout.slice(-2000));
  const fetched = (await shelf.app.index.usageOf('central')).cacheMisses;
  t.ok(fetched > 20, `the build fetched ${fetched} files through the cache`);
  const metrics = await (await fetch(`${shelf.url}/-/metrics`)).text();
  const bytesFetched = Number(/^shelf_upstream_bytes_fetched_total\{repo="central"\} (\d+)$/m.exec(metrics)?.[1]);
  t.ok(bytesFetched > LIMIT, `${bytesFetched} bytes came through a cache limited to ${LIMIT}`);
  const central = await settledUnder(LIMIT);
  t.ok(central.usedSpace <= LIMIT, `the cache holds ${central.usedSpace} bytes, under its ${LIMIT}`);
  t.ok(central.filesCount > 0, 'the most recently used files are kept');
  const hosted = await summary('maven-releases');
  t.ok(hosted.filesCount >= 2, 'the deployed jar and pom are there');

  // A fresh machine builds again: what was evicted is fetched again, and the build succeeds.
  project.clearLocalRepository();
  const again = await project.mvn('package');
  t.equal(again.code, 0, again.stdout.slice(-2000));
  t.ok((await shelf.app.index.usageOf('central')).cacheMisses > fetched, 'evicted files were downloaded again');
  t.ok((await settledUnder(LIMIT)).usedSpace <= LIMIT);
  t.same(await summary('maven-releases'), hosted, 'hosted content is untouched');
  const jar = await fetch(`${shelf.url}/maven-releases/shelf/sample/hello/1.0.0/hello-1.0.0.jar`);
  t.equal(jar.status, 200);
});
