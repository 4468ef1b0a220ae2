import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { pypiFixtures, pythonEnv } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';

// Retention policies applied by `shelf retention` beside the running server: the dry run lists exactly
// what the run then deletes, every deletion is audited with its policy, and the real clients see the result.
const mavenUpstream = await startMavenUpstream(t);
const repositories = [
  {
    key: 'npm-local',
    format: 'npm',
    type: 'local',
    retention: [{ name: 'keep-two', keepLastVersions: 2, excludePackages: ['@keep/**'] }],
  },
  { key: 'pypi-local', format: 'pypi', type: 'local', retention: [{ name: 'newest-release', keepLastVersions: 1 }] },
  {
    key: 'maven-releases',
    format: 'maven',
    type: 'local',
    retention: [
      { name: 'old-only', deleteOlderThanDays: 30 },
      { name: 'keep-two', keepLastVersions: 2, packages: ['shelf/sample/**'] },
    ],
  },
  { key: 'central', format: 'maven', type: 'remote', url: mavenUpstream.url },
  { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-releases', 'central'], defaultDeployRepo: 'maven-releases' },
];
const storage = { retention: { schedule: false }, gc: { schedule: false } };
const shelf = await startShelf({ repositories, storage });
t.teardown(() => shelf.stop());

function shelfRetention(...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-retention-config-'));
  const config = join(dir, 'shelf.yaml');
  writeFileSync(config, stringify({ storage: shelf.storage, security: { auditLog: shelf.auditLog }, repositories, logging: { level: 'warn' } }));
  return spawnSync(process.execPath, ['dist/cli/main.js', 'retention', '--config', config, ...args], { encoding: 'utf8' });
}

const publish = (name: string, version: string, ...args: string[]) => publishPackage(t, `${shelf.url}/npm-local/`, name, version, ...args);

t.test('dry run and run agree; npm, pip and mvn see only the versions kept', async (t) => {
  for (const version of ['1.0.0', '1.1.0', '2.0.0']) await publish('kept-two', version);
  await publish('kept-two', '1.2.0', '--tag', 'maintenance');
  for (const version of ['1.0.0', '2.0.0', '3.0.0']) await publish('@keep/all', version);
  const env = pythonEnv(t);
  const uploads = join(pypiFixtures(), 'uploads');
  const uploaded = await env.twine(`${shelf.url}/pypi-local/`, ...['1.0.0-py3-none-any.whl', '1.0.0.tar.gz', '1.1.0-py3-none-any.whl'].map((f) => join(uploads, `shelf_upload-${f}`)));
  t.equal(uploaded.code, 0, uploaded.stderr);
  for (const version of ['1.0.0', '1.2.0', '1.10.0']) {
    const deployed = await mavenProject(t, `${shelf.url}/maven/`, version).mvn('deploy', `-Dshelf.deployUrl=${shelf.url}/maven/`);
    t.equal(deployed.code, 0, deployed.stdout.slice(-2000));
  }

  const dry = shelfRetention('--dry-run');
  t.equal(dry.status, 0, dry.stderr);
  const planned = dry.stdout.split('\n').filter((line) => line.includes('@')).map((line) => line.replace(/, published .*\)$/, ')'));
  t.same(planned.sort(), [
    'maven-releases: shelf/sample/hello@1.0.0 (policy keep-two)',
    'npm-local: kept-two@1.0.0 (policy keep-two)',
    'npm-local: kept-two@1.1.0 (policy keep-two)',
    'pypi-local: shelf-upload@1.0.0 (policy newest-release)',
  ], 'by version order (1.10.0 is newer than 1.2.0), not by publication');
  t.match(dry.stdout, /would delete 4 versions/);
  t.equal((await fetch(`${shelf.url}/npm-local/kept-two/1.0.0`)).status, 200, 'a dry run deletes nothing');

  const run = shelfRetention();
  t.equal(run.status, 0, run.stderr);
  t.same(run.stdout.split('\n').filter((line) => line.includes('@')).map((line) => line.replace(/, published .*\)$/, ')')).sort(), planned, 'the run deletes exactly what the dry run listed');

  const client = new ClientProject(`${shelf.url}/npm-local/`);
  t.teardown(() => client.remove());
  const view = await client.npm('view', 'kept-two', 'versions', 'dist-tags', '--json');
  t.equal(view.code, 0, view.stderr);
  t.match(JSON.parse(view.stdout), { versions: ['1.2.0', '2.0.0'], 'dist-tags': { latest: '2.0.0', maintenance: '1.2.0' } });
  const keep = JSON.parse((await client.npm('view', '@keep/all', 'versions', '--json')).stdout) as string[];
  t.same(keep, ['1.0.0', '2.0.0', '3.0.0'], 'excluded packages keep every version');

  const pip = await env.pip(`${shelf.url}/pypi-local/simple/`, 'download', '--no-deps', '-d', join(env.dir, 'dl'), 'shelf-upload==1.0.0');
  t.not(pip.code, 0, 'pip no longer finds the deleted release');
  const latest = await env.pip(`${shelf.url}/pypi-local/simple/`, 'download', '--no-deps', '-d', join(env.dir, 'dl'), 'shelf-upload');
  t.equal(latest.code, 0, latest.stderr);
  t.match(latest.stdout, /shelf_upload-1\.1\.0-py3-none-any\.whl/);

  const metadata = await (await fetch(`${shelf.url}/maven/shelf/sample/hello/maven-metadata.xml`)).text();
  t.notMatch(metadata, '<version>1.0.0</version>');
  t.match(metadata, '<version>1.2.0</version>');
  t.match(metadata, '<version>1.10.0</version>');
  const gone = await mavenProject(t, `${shelf.url}/maven/`).mvn('dependency:get', '-Dartifact=shelf.sample:hello:1.0.0');
  t.not(gone.code, 0, 'mvn no longer resolves the deleted version');

  const audit = readFileSync(shelf.auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const deletions = audit.filter((e) => e.event === 'retention.delete');
  t.same(deletions.map((e) => `${e.repo as string}: ${e.path as string} (policy ${e.policy as string})`).sort(), planned, 'each deletion is audited with its policy');

  t.match(shelfRetention('--dry-run').stdout, /would delete 0 versions/, 'applied policies leave nothing more to do');
});
