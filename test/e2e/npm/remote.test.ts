import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ClientProject, startVerdaccio } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = await startVerdaccio(t);
const shelf = await startShelf({
  repositories: [
    // Cold and warm installs: packuments stay fresh for a minute.
    { key: 'npm-remote', format: 'npm', type: 'remote', url: upstream.url, assumedOfflineSeconds: 0 },
    // Every packument request revalidates upstream.
    { key: 'npm-live', format: 'npm', type: 'remote', url: upstream.url, metadataTtlSeconds: 0, assumedOfflineSeconds: 0 },
    // A cold cache for the concurrency test.
    { key: 'npm-crowd', format: 'npm', type: 'remote', url: upstream.url },
    { key: 'npm-cold', format: 'npm', type: 'remote', url: upstream.url },
  ],
});
t.teardown(() => shelf.stop());

const FIXTURES = ['shelf-fix-a', '@shelf/scoped', 'shelf-fix-many@next', 'shelf-fix-tool', 'shelf-fix-big'];

function project(repo: string): ClientProject {
  const p = new ClientProject(`${shelf.url}/${repo}/`);
  t.teardown(() => p.remove());
  return p;
}

/** Upstream GETs of URLs containing `fragment`. */
async function upstreamGets(fragment: string): Promise<string[]> {
  return (await upstream.requests(fragment)).filter((r) => r.startsWith('GET '));
}

t.test('cold install through the remote, then warm installs with the upstream stopped', async (t) => {
  const cold = project('npm-remote');
  const installed = await cold.npm('install', ...FIXTURES);
  t.equal(installed.code, 0, installed.stderr);
  const required = await cold.run('node', ['-e', 'console.log(require("shelf-fix-a"), require("@shelf/scoped"), require("shelf-fix-many"))']);
  t.equal(required.stdout.trim(), 'shelf-fix-a@1.0.0 @shelf/scoped@2.0.0 shelf-fix-many@2.0.0-beta.1');
  const lock = JSON.parse(cold.file('package-lock.json')) as { packages: Record<string, { resolved?: string }> };
  t.equal(lock.packages['node_modules/shelf-fix-c']!.resolved, `${shelf.url}/npm-remote/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz`);
  t.equal(lock.packages['node_modules/@shelf/scoped']!.resolved, `${shelf.url}/npm-remote/@shelf/scoped/-/scoped-2.0.0.tgz`);
  t.equal((await upstreamGets('/shelf-fix-big/-/')).length, 1, 'the big tarball was fetched upstream once');
  t.equal((await upstreamGets('/shelf-fix-c/-/')).length, 1);

  const tarball = await fetch(`${shelf.url}/npm-remote/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz`);
  t.equal(tarball.headers.get('content-type'), 'application/octet-stream');
  t.equal(tarball.headers.get('x-shelf-cache'), 'HIT');
  const doc = (await (await fetch(`${shelf.url}/npm-remote/shelf-fix-a`)).json()) as any;
  t.equal(doc.versions['1.0.0'].dist.tarball, `${shelf.url}/npm-remote/shelf-fix-a/-/shelf-fix-a-1.0.0.tgz`, 'tarball links point at Shelf');
  t.notMatch(JSON.stringify(doc), upstream.url.replace(/\/$/, ''), 'the upstream URL appears nowhere in the packument');

  await upstream.stop();
  try {
    const fromLock = project('npm-remote');
    writeFileSync(join(fromLock.dir, 'package.json'), cold.file('package.json'));
    writeFileSync(join(fromLock.dir, 'package-lock.json'), cold.file('package-lock.json'));
    const ci = await fromLock.npm('ci');
    t.equal(ci.code, 0, `npm ci from the lockfile with the upstream stopped: ${ci.stderr}`);

    const fresh = project('npm-live');
    const warmLive = await fresh.npm('install', 'shelf-fix-c');
    t.not(warmLive.code, 0, 'a package never cached cannot be installed with the upstream stopped');
  } finally {
    await upstream.start();
  }
});

t.test('packuments are revalidated with If-None-Match and served stale when the upstream fails', async (t) => {
  const url = `${shelf.url}/npm-live/shelf-fix-many`;
  t.equal((await fetch(url)).status, 200);
  const before = (await upstream.requests('/shelf-fix-many')).length;
  const answeredBefore = (await upstream.statuses('/shelf-fix-many')).length;
  const again = await fetch(url);
  t.equal(again.status, 200);
  t.same((await upstream.requests('/shelf-fix-many')).slice(before), ['GET /shelf-fix-many'], 'one request upstream');
  t.ok((await upstream.statuses('/shelf-fix-many')).slice(answeredBefore).includes(304), 'answered 304');

  // A new version published upstream is seen on the next request.
  const publisher = new ClientProject(upstream.url, { name: 'shelf-fix-many', version: '3.0.0', main: 'index.js', license: 'MIT' });
  t.teardown(() => publisher.remove());
  writeFileSync(join(publisher.dir, 'index.js'), 'module.exports = "shelf-fix-many@3.0.0";\n');
  t.equal((await publisher.npm('publish')).code, 0);
  const updated = (await (await fetch(url)).json()) as any;
  t.equal(updated['dist-tags'].latest, '3.0.0');
  t.ok(updated.versions['3.0.0']);
  t.equal((await fetch(updated.versions['3.0.0'].dist.tarball)).status, 200);

  await upstream.stop();
  try {
    const stale = await fetch(url);
    t.equal(stale.status, 200, 'the cached packument is served while the upstream is down');
    t.equal(((await stale.json()) as any)['dist-tags'].latest, '3.0.0');
    const install = await project('npm-live').npm('install', 'shelf-fix-many@3');
    t.equal(install.code, 0, install.stderr);
  } finally {
    await upstream.start();
  }
});

t.test('a tarball whose bytes do not match the packument integrity is refused and not cached', async (t) => {
  const stored = join(upstream.storage, 'shelf-fix-c', 'shelf-fix-c-1.0.0.tgz');
  const original = readFileSync(stored);
  writeFileSync(stored, Buffer.concat([original.subarray(0, original.length - 10), Buffer.alloc(10)]));
  try {
    const url = `${shelf.url}/npm-live/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz`;
    // A small miss is checked before anything is sent: a 502 that says why.
    const lied = await fetch(url);
    t.equal(lied.status, 502, 'the corrupted body is never delivered');
    t.match(await lied.text(), /sent shelf-fix-c\/-\/shelf-fix-c-1\.0\.0\.tgz wrong/);
    const install = await project('npm-live').npm('install', 'shelf-fix-c');
    t.not(install.code, 0, 'npm does not get the corrupted tarball');
    t.ok((await upstreamGets('/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz')).length >= 2, 'nothing was cached: each request asked upstream again');
  } finally {
    writeFileSync(stored, original);
  }
  const repaired = await fetch(`${shelf.url}/npm-live/shelf-fix-c/-/shelf-fix-c-1.0.0.tgz`);
  t.equal(repaired.status, 200, 'the next request fetches again and succeeds');
  t.equal(Buffer.from(await repaired.arrayBuffer()).length, original.length);
});

t.test('20 concurrent installs of the same tree make one upstream request per file', async (t) => {
  const before = (await upstream.requests('')).length;
  const projects = Array.from({ length: 20 }, () => project('npm-crowd'));
  const results = await Promise.all(projects.map((p) => p.npm('install', 'shelf-fix-a', '@shelf/scoped', 'shelf-fix-big')));
  results.forEach((r, i) => t.equal(r.code, 0, `install ${i}: ${r.stderr}`));
  const requests = (await upstream.requests('')).slice(before);
  const byUrl = new Map<string, number>();
  for (const r of requests) byUrl.set(r.split(' ')[1]!, (byUrl.get(r.split(' ')[1]!) ?? 0) + 1);
  t.same(
    [...byUrl.entries()].filter(([, n]) => n > 1),
    [],
    `every file was asked for once (${requests.length} upstream requests)`,
  );
  t.equal(byUrl.get('/shelf-fix-big/-/shelf-fix-big-1.0.0.tgz'), 1);
  const scoped = [...byUrl.entries()].filter(([url]) => /^\/@shelf%2fscoped$/i.test(url));
  t.same(scoped.map(([, n]) => n), [1], 'the scoped packument was asked for once');
});

t.test('a packument of thousands of versions is served whole and abbreviated', async (t) => {
  const publisher = new ClientProject(upstream.url, { name: 'shelf-fix-huge', version: '1.0.0', main: 'index.js', license: 'MIT' });
  t.teardown(() => publisher.remove());
  writeFileSync(join(publisher.dir, 'index.js'), 'module.exports = "huge";\n');
  t.equal((await publisher.npm('publish')).code, 0);
  // Thousands of older versions, each with a long description, written into the upstream's storage.
  const file = join(upstream.storage, 'shelf-fix-huge', 'package.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const template = doc.versions['1.0.0'];
  for (let i = 0; i < 3000; i++) {
    const version = `0.0.${i}`;
    doc.versions[version] = {
      ...template,
      version,
      _id: `shelf-fix-huge@${version}`,
      description: `release ${i} `.repeat(400),
      dist: { ...template.dist, tarball: template.dist.tarball.replace('1.0.0', version) },
    };
    doc.time[version] = new Date(Date.UTC(2020, 0, 1) + i * 1000).toISOString();
  }
  writeFileSync(file, JSON.stringify(doc));
  copyFileSync(file, `${file}.bak`);

  const full = await fetch(`${shelf.url}/npm-remote/shelf-fix-huge`);
  const text = await full.text();
  t.ok(text.length > 10 * 1024 * 1024, `the full document is ${(text.length / 1048576).toFixed(1)} MiB`);
  const parsed = JSON.parse(text);
  t.equal(Object.keys(parsed.versions).length, 3001);
  t.equal(parsed['dist-tags'].latest, '1.0.0');
  const corgi = await fetch(`${shelf.url}/npm-remote/shelf-fix-huge`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
  const abbreviated = JSON.parse(await corgi.text());
  t.equal(Object.keys(abbreviated.versions).length, 3001);
  t.notOk(abbreviated.versions['0.0.7'].description, 'the abbreviated document leaves descriptions out');
  const install = await project('npm-remote').npm('install', 'shelf-fix-huge');
  t.equal(install.code, 0, install.stderr);
});

t.test('a large tarball streamed on its first fetch already carries the checksum it is verified against', async (t) => {
  const packument = (await (await fetch(`${shelf.url}/npm-cold/shelf-fix-big`)).json()) as { versions: Record<string, { dist: { shasum: string } }> };
  const shasum = packument.versions['1.0.0']!.dist.shasum;
  const miss = await fetch(`${shelf.url}/npm-cold/shelf-fix-big/-/shelf-fix-big-1.0.0.tgz`);
  t.equal(miss.headers.get('x-shelf-cache'), 'MISS');
  t.equal(miss.headers.get('x-checksum-sha1'), shasum, "the packument's shasum, which the body is checked against");
  const body = Buffer.from(await miss.arrayBuffer());
  t.equal(createHash('sha1').update(body).digest('hex'), shasum);
});
