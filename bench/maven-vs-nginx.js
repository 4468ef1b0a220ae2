// Maven through Shelf against nginx serving the same repository layout (Debian's maven-repo, as the tests
// use it), in the same run: Shelf's remote repository caches that nginx. Prints requests/s, MB/s and
// Shelf/nginx ratios for maven-metadata.xml, a POM, a checksum and a jar, then the wall time of
// `mvn package` of the sample project with an empty local repository against each.
// A benchmark, not a test: no thresholds. usage: npm run bench:maven [-- --seconds 10 --workers 2 --installs 3]
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ installs: { type: 'string', default: '3' } });
const { seconds, workers, repeats } = values;
const harness = new URL('../test/harness/', import.meta.url).pathname;

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-maven-'));
chmodSync(root, 0o755);
const fixture = join(tmpdir(), 'shelf-test-maven-repo');
execFileSync('bash', [join(harness, 'maven/fixture-repo.sh'), fixture]);

const nginxPort = await freePort();
const shelfPort = await freePort();
execFileSync('bash', [join(harness, 'static-upstream.sh'), 'start', fixture, String(nginxPort)], { env: { ...process.env, NGINX_WORKERS: String(workers) } });
const shelf = await startShelfServer(root, {
  port: shelfPort,
  workers,
  repository: `{ key: central, format: maven, type: remote, url: "http://127.0.0.1:${nginxPort}/", metadataTtlSeconds: 86400, negativeCacheTtlSeconds: 86400 }`,
});
const nginx = `http://127.0.0.1:${nginxPort}`;
const shelfUrl = `http://127.0.0.1:${shelfPort}/central`;
const junit = '/junit/junit/4.13.2/junit-4.13.2';
const cases = [
  { label: 'maven-metadata.xml', path: '/junit/junit/maven-metadata.xml', connections: 32 },
  { label: 'pom', path: `${junit}.pom`, connections: 32 },
  { label: 'jar .sha1', path: `${junit}.jar.sha1`, connections: 32 },
  { label: 'jar 380 KiB', path: `${junit}.jar`, connections: 16 },
];

/** Wall time of `mvn package` of the harness's sample project with an empty local repository. */
function timeInstall(mirror) {
  const dir = mkdtempSync(join(root, 'build-'));
  execFileSync('cp', ['-r', join(harness, 'maven/sample'), join(dir, 'project')]);
  writeFileSync(join(dir, 'settings.xml'), execFileSync('bash', [join(harness, 'maven/settings.sh'), `${mirror}/`]));
  const started = process.hrtime.bigint();
  execFileSync('mvn', ['-B', '-q', '-s', join(dir, 'settings.xml'), `-Dmaven.repo.local=${join(dir, 'm2')}`, 'package'], {
    cwd: join(dir, 'project'),
    env: { PATH: process.env.PATH, HOME: dir },
    stdio: 'ignore',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

try {
  timeInstall(shelfUrl); // warms Shelf's cache, negative entries included
  const report = new Report('maven: cache HITs and mvn package through Shelf against nginx serving the same layout', {
    facts: machineFacts({ nginx: ['nginx', '-v'], maven: ['mvn', '-v'] }),
    settings: { seconds, repeats, installs: Number(values.installs), shelfWorkers: workers, nginxWorkers: workers },
  });
  for (const c of cases) {
    const servers = [
      { name: 'nginx', url: `${nginx}${c.path}` },
      { name: 'shelf', url: `${shelfUrl}${c.path}` },
    ];
    report.load(c.label, servers, { connections: c.connections, seconds, repeats, headers: c.headers });
  }
  const installs = [{ name: 'nginx', url: nginx }, { name: 'shelf (warm)', url: shelfUrl }];
  report.times('mvn package of the sample project (empty local repository)', installs, Number(values.installs), (server) => timeInstall(server.url));
  report.save(values.json);
} finally {
  await stopShelfServer(shelf);
  execFileSync('bash', [join(harness, 'static-upstream.sh'), 'stop', fixture, String(nginxPort)]);
  rmSync(root, { recursive: true, force: true });
}
