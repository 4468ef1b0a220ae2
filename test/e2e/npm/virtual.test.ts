import type { IncomingMessage } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { ClientProject, startFront, startVerdaccio } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = await startVerdaccio(t);

/**
 * The upstream registry's advisory service: no advisory database is reachable here, so a front answers
 * npm's bulk advisory endpoint (for shelf-fix-c below 2.0.0) and passes everything else to Verdaccio.
 */
const auditBodies: Record<string, string[]>[] = [];
const frontUrl = await startFront(t, upstream.port, (req, res) => {
  if (req.url === '/-/npm/v1/security/advisories/bulk' && req.method === 'POST') {
    void readBody(req).then((raw) => {
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString()) as Record<string, string[]>;
      auditBodies.push(body);
      const advisories = body['shelf-fix-c']
        ? {
            'shelf-fix-c': [
              { id: 1001, url: 'https://advisories.example/1001', title: 'Prototype pollution in shelf-fix-c', severity: 'high', vulnerable_versions: '<2.0.0', cwe: ['CWE-1321'], cvss: { score: 7.5, vectorString: null } },
            ],
          }
        : {};
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(advisories));
    });
    return true;
  }
  return false;
});

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const shelf = await startShelf({
  repositories: [
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'npm-team', format: 'npm', type: 'local' },
    { key: 'npm-remote', format: 'npm', type: 'remote', url: frontUrl },
    {
      key: 'npm',
      format: 'npm',
      type: 'virtual',
      members: ['npm-local', 'npm-team', 'npm-remote'],
      defaultDeployRepo: 'npm-local',
      packageRoutes: [{ packages: ['@team/**'], members: ['npm-local'] }],
    },
  ],
});
t.teardown(() => shelf.stop());

function project(repo: string, npmrc: string[] = []): ClientProject {
  const p = new ClientProject(`${shelf.url}/${repo}/`, undefined, npmrc);
  t.teardown(() => p.remove());
  return p;
}

async function publish(repo: string, name: string, version: string, dependencies: Record<string, string> = {}) {
  const p = new ClientProject(`${shelf.url}/${repo}/`, { name, version, main: 'index.js', license: 'MIT', dependencies });
  t.teardown(() => p.remove());
  writeFileSync(join(p.dir, 'index.js'), `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`);
  return p.npm('publish');
}

const packument = async (repo: string, name: string) =>
  (await fetch(`${shelf.url}/${repo}/${name.replace('/', '%2f')}`)).json() as Promise<any>;

t.test('one registry over hosted and cached packages; publishes land in the deploy repository', async (t) => {
  const published = await publish('npm', 'shelf-own', '1.0.0', { 'shelf-fix-a': '^1.0.0' });
  t.equal(published.code, 0, published.stderr);
  t.ok((await packument('npm-local', 'shelf-own')).versions['1.0.0'], 'stored in npm-local');

  const p = project('npm');
  const installed = await p.npm('install', 'shelf-own', 'shelf-fix-many');
  t.equal(installed.code, 0, installed.stderr);
  const required = await p.run('node', ['-e', 'console.log(require("shelf-own"), require("shelf-fix-a"))']);
  t.equal(required.stdout.trim(), 'shelf-own@1.0.0 shelf-fix-a@1.0.0');
  const lock = JSON.parse(p.file('package-lock.json')) as { packages: Record<string, { resolved: string }> };
  t.equal(lock.packages['node_modules/shelf-own']!.resolved, `${shelf.url}/npm/shelf-own/-/shelf-own-1.0.0.tgz`);
  t.equal(lock.packages['node_modules/shelf-fix-c']!.resolved, `${shelf.url}/npm/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz`);

  const merged = await packument('npm', 'shelf-fix-many');
  t.equal(merged.versions['1.0.0'].dist.tarball, `${shelf.url}/npm/shelf-fix-many/-/shelf-fix-many-1.0.0.tgz`);
  t.same(merged['dist-tags'], { latest: '1.1.0', next: '2.0.0-beta.1' });

  t.equal((await p.npm('dist-tag', 'add', 'shelf-own@1.0.0', 'stable')).code, 0);
  t.same((await packument('npm-local', 'shelf-own'))['dist-tags'], { latest: '1.0.0', stable: '1.0.0' });
  const toRemote = await fetch(`${shelf.url}/npm-remote/shelf-own`, { method: 'PUT', body: '{}' });
  t.equal(toRemote.status, 405, 'a remote repository takes no publishes');
});

t.test('versions of one package from two members are merged, the first member winning', async (t) => {
  t.equal((await publish('npm-local', 'shelf-merge', '1.0.0')).code, 0);
  t.equal((await publish('npm-team', 'shelf-merge', '1.0.0')).code, 0, 'the same version, other bytes, in the second member');
  t.equal((await publish('npm-team', 'shelf-merge', '1.1.0')).code, 0);
  const first = await packument('npm-local', 'shelf-merge');
  const merged = await packument('npm', 'shelf-merge');
  t.same(Object.keys(merged.versions).sort(), ['1.0.0', '1.1.0']);
  t.equal(merged.versions['1.0.0'].dist.integrity, first.versions['1.0.0'].dist.integrity, 'the first member owns 1.0.0');
  t.equal(merged['dist-tags'].latest, '1.0.0', 'dist-tags come from the first member that has the package');
  const p = project('npm');
  t.equal((await p.npm('install', 'shelf-merge@1.0.0')).code, 0);
  t.equal((await p.npm('install', 'shelf-merge@1.1.0')).code, 0, 'a tarball of the second member, through the virtual');
});

t.test('a local package shadows the remote package of the same name (dependency confusion)', async (t) => {
  // The remote has @shelf/scoped 2.0.0, cached here before the local publish.
  t.equal((await fetch(`${shelf.url}/npm-remote/@shelf/scoped/-/scoped-2.0.0.tgz`)).status, 200);
  t.equal((await publish('npm', '@shelf/scoped', '9.0.0')).code, 0);

  const merged = await packument('npm', '@shelf/scoped');
  t.same(Object.keys(merged.versions), ['9.0.0'], 'only the hosted versions');
  t.equal((await fetch(`${shelf.url}/npm/@shelf/scoped/-/scoped-2.0.0.tgz`)).status, 404, 'the remote tarball is not reachable through the virtual');
  const p = project('npm');
  const pinned = await p.npm('install', '@shelf/scoped@2.0.0');
  t.not(pinned.code, 0);
  t.match(pinned.stderr, /ETARGET|No matching version/);
  const latest = await p.npm('install', '@shelf/scoped');
  t.equal(latest.code, 0, latest.stderr);
  t.equal((await p.run('node', ['-e', 'console.log(require("@shelf/scoped"))'])).stdout.trim(), '@shelf/scoped@9.0.0');
});

t.test('packageRoutes keep a scope away from the remote members', async (t) => {
  const before = (await upstream.requests('@team')).length;
  const missing = await fetch(`${shelf.url}/npm/@team%2fmissing`);
  t.equal(missing.status, 404);
  t.equal((await upstream.requests('@team')).length, before, 'the upstream was never asked for @team/missing');
  t.equal((await publish('npm', '@team/tool', '1.0.0')).code, 0);
  t.same(Object.keys((await packument('npm', '@team/tool')).versions), ['1.0.0']);
});

t.test('npm audit is answered by the remote member\'s upstream', async (t) => {
  const p = project('npm');
  t.equal((await p.npm('install', 'shelf-fix-a')).code, 0);
  const audit = await p.npm('audit');
  t.equal(audit.code, 1, 'npm audit exits 1 when it finds a vulnerability');
  t.match(audit.stdout, /^shelf-fix-c\s/m);
  t.match(audit.stdout, 'Severity: high');
  t.match(audit.stdout, 'Prototype pollution in shelf-fix-c');
  t.ok(auditBodies.some((body) => body['shelf-fix-c']?.includes('1.0.0')), 'the lockfile\'s packages reached the upstream');

  const hostedOnly = project('npm-local', ['audit=true']);
  const install = await hostedOnly.npm('install', 'shelf-merge');
  t.equal(install.code, 0, `npm install succeeds without an advisory source: ${install.stderr}`);
  const refused = await hostedOnly.npm('audit');
  t.not(refused.code, 0);
  t.match(refused.stderr, /audit endpoint returned an error|404/);
});
