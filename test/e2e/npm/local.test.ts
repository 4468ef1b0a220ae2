import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { ClientProject } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const shelf = await startShelf({
  server: { maxUploadBytes: 4 * 1024 * 1024 },
  repositories: [
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'npm-protected', format: 'npm', type: 'local', allowDelete: false },
  ],
});
t.teardown(() => shelf.stop());
const registry = `${shelf.url}/npm-local/`;

/** A package directory that `npm publish` can publish. */
function packageProject(repoUrl: string, name: string, version: string, extra: Record<string, unknown> = {}): ClientProject {
  const project = new ClientProject(repoUrl, { name, version, description: `test ${name}`, main: 'index.js', license: 'MIT', ...extra });
  writeFileSync(join(project.dir, 'index.js'), `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`);
  t.teardown(() => project.remove());
  return project;
}

function consumer(repoUrl = registry): ClientProject {
  const project = new ClientProject(repoUrl);
  t.teardown(() => project.remove());
  return project;
}

async function packument(name: string, repo = 'npm-local', accept = 'application/json') {
  const response = await fetch(`${shelf.url}/${repo}/${name.replace('/', '%2f')}`, { headers: { accept } });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as any };
}

t.test('publish with npm, then install into a fresh project and require it', async (t) => {
  const published = await packageProject(registry, '@team/greeter', '1.0.0').npm('publish');
  t.equal(published.code, 0, published.stderr);

  const full = await packument('@team/greeter');
  t.equal(full.status, 200);
  t.same(full.body['dist-tags'], { latest: '1.0.0' });
  t.equal(full.body.versions['1.0.0'].dist.tarball, `${shelf.url}/npm-local/@team/greeter/-/greeter-1.0.0.tgz`);
  t.equal(full.body.description, 'test @team/greeter');
  t.ok(full.body.time['1.0.0'], 'publish time recorded');

  const corgi = await packument('@team/greeter', 'npm-local', 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*');
  t.match(corgi.type, /application\/vnd\.npm\.install-v1\+json/);
  t.notOk(corgi.body.description, 'the abbreviated document leaves out package-level fields');
  t.ok(corgi.body.versions['1.0.0'].dist.integrity);

  const tarball = await fetch(full.body.versions['1.0.0'].dist.tarball);
  t.equal(tarball.headers.get('content-type'), 'application/octet-stream');
  const bytes = Buffer.from(await tarball.arrayBuffer());
  t.equal(`sha512-${createHash('sha512').update(bytes).digest('base64')}`, full.body.versions['1.0.0'].dist.integrity);

  const project = consumer();
  const installed = await project.npm('install', '@team/greeter');
  t.equal(installed.code, 0, installed.stderr);
  const required = await project.run('node', ['-e', 'console.log(require("@team/greeter"))']);
  t.equal(required.stdout.trim(), '@team/greeter@1.0.0');
  t.match(project.file('package-lock.json'), `"resolved": "${shelf.url}/npm-local/@team/greeter/-/greeter-1.0.0.tgz"`);
});

t.test('a version is published once', async (t) => {
  const project = packageProject(registry, 'once-only', '1.0.0');
  t.equal((await project.npm('publish')).code, 0);
  writeFileSync(join(project.dir, 'index.js'), 'module.exports = "changed";\n');
  const again = await project.npm('publish');
  t.not(again.code, 0);
  t.match(again.stderr, 'You cannot publish over the previously published versions: 1.0.0.');
  const tarball = await fetch(`${shelf.url}/npm-local/once-only/-/once-only-1.0.0.tgz`);
  const first = (await packument('once-only')).body.versions['1.0.0'].dist.integrity;
  t.equal(`sha512-${createHash('sha512').update(Buffer.from(await tarball.arrayBuffer())).digest('base64')}`, first, 'the first tarball is kept');
});

t.test('dist-tags, deprecate and unpublish with the npm client', async (t) => {
  for (const version of ['1.0.0', '1.1.0', '2.0.0-rc.1']) {
    const result = await packageProject(registry, 'tagged', version).npm('publish', ...(version.includes('rc') ? ['--tag', 'next'] : []));
    t.equal(result.code, 0, result.stderr);
  }
  const client = consumer();
  t.equal((await client.npm('dist-tag', 'add', 'tagged@1.0.0', 'stable')).code, 0);
  const listed = await client.npm('dist-tag', 'ls', 'tagged');
  t.match(listed.stdout, 'latest: 1.1.0');
  t.match(listed.stdout, 'next: 2.0.0-rc.1');
  t.match(listed.stdout, 'stable: 1.0.0');
  const bad = await client.npm('dist-tag', 'add', 'tagged@9.9.9', 'ghost');
  t.not(bad.code, 0, 'a tag on a version that does not exist is refused');

  t.equal((await client.npm('deprecate', 'tagged@1.0.0', 'use 1.1.0')).code, 0);
  t.equal((await packument('tagged')).body.versions['1.0.0'].deprecated, 'use 1.1.0');
  t.notOk((await packument('tagged')).body.versions['1.1.0'].deprecated);
  const install = await client.npm('install', 'tagged@1.0.0');
  t.match(install.stderr, /deprecated tagged@1\.0\.0: use 1\.1\.0/);
  t.equal((await client.npm('deprecate', 'tagged@1.0.0', '')).code, 0);
  t.notOk((await packument('tagged')).body.versions['1.0.0'].deprecated, 'an empty message undeprecates');

  const unpublished = await client.npm('unpublish', 'tagged@1.0.0');
  t.equal(unpublished.code, 0, unpublished.stderr);
  const after = (await packument('tagged')).body;
  t.same(Object.keys(after.versions).sort(), ['1.1.0', '2.0.0-rc.1']);
  t.notOk(after['dist-tags'].stable, 'tags on the unpublished version are gone');
  t.equal((await fetch(`${shelf.url}/npm-local/tagged/-/tagged-1.0.0.tgz`)).status, 404);

  t.equal((await client.npm('dist-tag', 'rm', 'tagged', 'next')).code, 0);
  t.same((await (await fetch(`${shelf.url}/npm-local/-/package/tagged/dist-tags`)).json()), { latest: '1.1.0' });

  const whole = await client.npm('unpublish', 'tagged', '--force');
  t.equal(whole.code, 0, whole.stderr);
  t.equal((await packument('tagged')).status, 404);
  t.equal((await fetch(`${shelf.url}/npm-local/tagged/-/tagged-1.1.0.tgz`)).status, 404);
});

t.test('unpublish is refused where the repository protects deletion', async (t) => {
  const protectedRegistry = `${shelf.url}/npm-protected/`;
  t.equal((await packageProject(protectedRegistry, 'kept', '1.0.0').npm('publish')).code, 0);
  t.equal((await packageProject(protectedRegistry, 'kept', '1.1.0').npm('publish')).code, 0);
  const client = consumer(protectedRegistry);
  const one = await client.npm('unpublish', 'kept@1.0.0');
  t.not(one.code, 0);
  t.match(one.stderr, /403/);
  const all = await client.npm('unpublish', 'kept', '--force');
  t.not(all.code, 0);
  t.same(Object.keys((await packument('kept', 'npm-protected')).body.versions).sort(), ['1.0.0', '1.1.0']);
});

t.test('a publish whose tarball does not match its integrity stores nothing', async (t) => {
  const tarball = Buffer.from('not really a tarball');
  const body = {
    name: 'liar',
    versions: {
      '1.0.0': {
        name: 'liar',
        version: '1.0.0',
        dist: { integrity: `sha512-${createHash('sha512').update('other bytes').digest('base64')}`, tarball: 'http://x/liar/-/liar-1.0.0.tgz' },
      },
    },
    'dist-tags': { latest: '1.0.0' },
    _attachments: { 'liar-1.0.0.tgz': { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  const put = (b: unknown) => fetch(`${shelf.url}/npm-local/liar`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const response = await put(body);
  t.equal(response.status, 400);
  t.match(((await response.json()) as { error: string }).error, /does not match/);
  t.equal((await packument('liar')).status, 404);
  t.equal((await fetch(`${shelf.url}/npm-local/liar/-/liar-1.0.0.tgz`)).status, 404);

  const lengthLie = { ...body, _attachments: { 'liar-1.0.0.tgz': { data: tarball.toString('base64'), length: 3 } } };
  t.equal((await put(lengthLie)).status, 400, 'a declared length that differs is refused');
  const twoVersions = { ...body, versions: { ...body.versions, '1.0.1': body.versions['1.0.0'] } };
  t.equal((await put(twoVersions)).status, 400, 'one version per publish');
  t.equal((await put({ ...body, name: 'other' })).status, 400, 'the body names the package of the URL');
  t.equal((await fetch(`${shelf.url}/npm-local/liar`, { method: 'PUT', body: '{not json' })).status, 400);
});

t.test('a publish larger than the upload limit is refused', async (t) => {
  const project = packageProject(registry, 'too-big', '1.0.0');
  mkdirSync(join(project.dir, 'data'));
  writeFileSync(join(project.dir, 'data', 'random.bin'), randomBytes(6 * 1024 * 1024));
  const result = await project.npm('publish');
  t.not(result.code, 0);
  t.match(result.stderr, /413/);
  t.equal((await packument('too-big')).status, 404);
});

t.test('paths that are not npm names are refused', async (t) => {
  const paths = ['/npm-local/..%2f..%2fetc%2fpasswd', '/npm-local/.npm/x/package.json', '/npm-local/@scope', '/npm-local/a/-/..%2f..%2fb.tgz', '/npm-local/%2e%2e', '/npm-local/a%00b'];
  for (const path of paths) {
    // node:http sends the path exactly as written (fetch would resolve the dot segments itself).
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(shelf.url);
      get({ hostname, port, path }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      }).on('error', reject);
    });
    t.ok([400, 404].includes(status), `${path}: ${status}`);
    t.type((JSON.parse(body) as { error: string }).error, 'string', 'npm reads the error field');
  }
  const wrongMethod = await fetch(`${shelf.url}/npm-local/once-only/1.0.0`, { method: 'DELETE' });
  t.equal(wrongMethod.status, 405);
  t.ok(wrongMethod.headers.get('allow'));
});

t.test('ping, version documents, search and conditional packument requests', async (t) => {
  const client = consumer();
  t.equal((await client.npm('ping')).code, 0);
  const version = await fetch(`${shelf.url}/npm-local/once-only/latest`);
  t.equal(((await version.json()) as { version: string }).version, '1.0.0');
  t.equal((await fetch(`${shelf.url}/npm-local/once-only/9.9.9`)).status, 404);

  const search = await client.npm('search', '--json', 'greeter');
  t.equal(search.code, 0, search.stderr);
  const found = JSON.parse(search.stdout) as { name: string; version: string }[];
  t.same(found.map((p) => [p.name, p.version]), [['@team/greeter', '1.0.0']]);

  const first = await fetch(`${shelf.url}/npm-local/once-only`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(first.headers.get('content-encoding'), 'gzip', 'packuments are gzipped for clients that accept it');
  t.equal(((await first.json()) as { name: string }).name, 'once-only');
  const plain = await new Promise<string | undefined>((resolve) => get(`${shelf.url}/npm-local/once-only`, (res) => (res.resume(), resolve(res.headers['content-encoding']))));
  t.equal(plain, undefined, 'and sent as they are to clients that do not');
  const etag = first.headers.get('etag')!;
  t.ok(etag);
  const again = await fetch(`${shelf.url}/npm-local/once-only`, { headers: { 'if-none-match': etag } });
  t.equal(again.status, 304);
  const corgi = await fetch(`${shelf.url}/npm-local/once-only`, { headers: { accept: 'application/vnd.npm.install-v1+json', 'if-none-match': etag } });
  t.equal(corgi.status, 200, 'the abbreviated document has its own ETag');
});

t.test('tarball links follow the proxy headers when trustProxy is set', async (t) => {
  const proxied = await startShelf({
    server: { trustProxy: true },
    repositories: [{ key: 'npm-local', format: 'npm', type: 'local' }],
  });
  t.teardown(() => proxied.stop());
  t.equal((await packageProject(`${proxied.url}/npm-local/`, 'behind-proxy', '1.0.0').npm('publish')).code, 0);
  const response = await fetch(`${proxied.url}/npm-local/behind-proxy`, {
    headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'npm.example.org' },
  });
  const doc = (await response.json()) as any;
  t.equal(doc.versions['1.0.0'].dist.tarball, 'https://npm.example.org/npm-local/behind-proxy/-/behind-proxy-1.0.0.tgz');
});

t.test('a refused publish leaves nothing behind: the corrected one succeeds', async (t) => {
  const tarball = randomBytes(64);
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const body = (extra: Record<string, unknown>, tags: Record<string, string> = { latest: '1.0.0' }) => ({
    name: 'refused-once',
    'dist-tags': tags,
    versions: { '1.0.0': { name: 'refused-once', version: '1.0.0', dist: { integrity }, ...extra } },
    _attachments: { 'refused-once-1.0.0.tgz': { data: tarball.toString('base64'), length: tarball.length } },
  });
  const put = (document: unknown) =>
    fetch(`${registry}refused-once`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: typeof document === 'string' ? document : JSON.stringify(document),
    });
  // 5,000 nested arrays in 10 KB (written out: JSON.stringify itself cannot nest that deep).
  const deep = await put(JSON.stringify(body({ deep: 'NESTED' })).replace('"NESTED"', `${'['.repeat(5000)}${']'.repeat(5000)}`));
  t.equal(deep.status, 400, 'a manifest nested 5,000 deep is a bad request');
  t.match(((await deep.json()) as { error: string }).error, /nests deeper/);
  const manyTags = await put(body({}, Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`tag-${i}`, '1.0.0']))));
  t.equal(manyTags.status, 400, 'too many dist-tags in one publish');
  t.equal((await fetch(`${registry}refused-once/-/refused-once-1.0.0.tgz`)).status, 404, 'no tarball was stored');

  const corrected = await packageProject(registry, 'refused-once', '1.0.0').npm('publish');
  t.equal(corrected.code, 0, `npm publishes the corrected version: ${corrected.stderr}`);
  t.same((await packument('refused-once')).body['dist-tags'], { latest: '1.0.0' });
});
