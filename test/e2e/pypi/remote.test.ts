import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { pythonEnv, startPypiUpstream } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = await startPypiUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'pypi-remote', format: 'pypi', type: 'remote', url: `${upstream.url}simple/`, assumedOfflineSeconds: 0 },
    // Every index page revalidates upstream.
    // as-cached: the stale page lists what the upstream listed (the default lists only files fetched before).
    { key: 'pypi-live', format: 'pypi', type: 'remote', url: `${upstream.url}simple/`, metadataTtlSeconds: 0, assumedOfflineSeconds: 0, offlineMetadata: 'as-cached' },
    { key: 'pypi-meta', format: 'pypi', type: 'remote', url: `${upstream.url}simple/`, assumedOfflineSeconds: 0 },
  ],
});
t.teardown(() => shelf.stop());
const index = (repo: string) => `${shelf.url}/${repo}/simple/`;

t.test('pip installs through the remote; then again with the upstream stopped', async (t) => {
  const cold = pythonEnv(t);
  const installed = await cold.pip(index('pypi-remote'), 'install', 'shelf-fix-a', 'Shelf.Fix_Norm', 'shelf-fix-py', 'shelf-fix-big');
  t.equal(installed.code, 0, installed.stderr);
  const versions = await cold.python('import shelf_fix_a, shelf_fix_b, shelf_fix_norm, shelf_fix_py; print(shelf_fix_b.VERSION, shelf_fix_py.VERSION)');
  t.equal(versions.stdout.trim(), '2.0.0 1.0.0', 'the newest b, and the shelf-fix-py whose Requires-Python fits');
  t.match(installed.stdout, `${shelf.url}/pypi-remote/packages/shelf-fix-b/shelf_fix_b-2.0.0-py3-none-any.whl`, 'files come from Shelf');
  t.same(upstream.requests('/packages/shelf_fix_big-1.0.0-py3-none-any.whl'), ['GET /packages/shelf_fix_big-1.0.0-py3-none-any.whl 200'], 'the big wheel was fetched upstream once');
  t.same(upstream.requests('/simple/shelf-fix-a/'), ['GET /simple/shelf-fix-a/ 200']);
  const downloaded = await cold.pip(index('pypi-remote'), 'download', '--no-deps', '-d', 'dl', 'shelf-fix-b==1.0.0');
  t.equal(downloaded.code, 0, downloaded.stderr);
  t.match(downloaded.stdout, 'Saved ./dl/shelf_fix_b-1.0.0-py3-none-any.whl');

  upstream.stop();
  try {
    const warm = pythonEnv(t);
    const again = await warm.pip(index('pypi-remote'), 'install', 'shelf-fix-a', 'shelf-fix-big');
    t.equal(again.code, 0, `installs from the cache with the upstream stopped: ${again.stderr}`);
    const uncached = await fetch(`${shelf.url}/pypi-remote/packages/shelf-fix-b/shelf_fix_b-1.0.0.tar.gz`);
    t.equal(uncached.status, 404, 'a file never fetched cannot be had while the upstream is down');
    t.match(await uncached.text(), /not available offline/);
    const stale = await fetch(`${index('pypi-live')}shelf-fix-a/`);
    t.equal(stale.status, 404, 'a page never cached is not available offline');
  } finally {
    await upstream.start();
  }
});

t.test('index pages are revalidated, served stale when the upstream fails, and follow upstream changes', async (t) => {
  const url = `${index('pypi-live')}shelf-fix-b/`;
  const before = upstream.requests('/simple/shelf-fix-b/').length;
  t.equal((await fetch(url)).status, 200);
  t.equal((await fetch(url)).status, 200);
  // nginx writes its log line once the response is sent, a moment after Shelf has it.
  for (let i = 0; i < 40 && upstream.requests('/simple/shelf-fix-b/').length < before + 2; i++) await sleep(25);
  const statuses = upstream.requests('/simple/shelf-fix-b/').slice(before).map((r) => r.split(' ')[2]);
  t.same(statuses, ['200', '304'], 'the second request revalidated with a 304');
  upstream.stop();
  try {
    const stale = await fetch(url);
    t.equal(stale.status, 200);
    t.match(await stale.text(), 'shelf_fix_b-2.0.0-py3-none-any.whl');
  } finally {
    await upstream.start();
  }
  const page = join(upstream.root, 'simple', 'shelf-fix-b', 'index.html');
  const original = readFileSync(page, 'utf8');
  writeFileSync(page, original.replace(/<a [^>]*>shelf_fix_b-2\.0\.0\.tar\.gz<\/a>\n/, ''));
  t.notMatch(await (await fetch(url)).text(), 'shelf_fix_b-2.0.0.tar.gz', 'a file the upstream no longer lists is gone from the page');
  writeFileSync(page, original);
});

t.test('both forms of the simple API, negotiated; names normalized by redirect', async (t) => {
  const json = await fetch(`${index('pypi-remote')}shelf-fix-py/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  t.equal(json.headers.get('content-type'), 'application/vnd.pypi.simple.v1+json');
  const doc = (await json.json()) as { name: string; files: { filename: string; url: string; hashes: { sha256: string }; 'requires-python'?: string }[] };
  t.equal(doc.name, 'shelf-fix-py');
  const py2 = doc.files.find((f) => f.filename === 'shelf_fix_py-2.0.0-py3-none-any.whl')!;
  t.equal(py2['requires-python'], '>=3.99');
  t.match(py2.hashes.sha256, /^[0-9a-f]{64}$/);
  t.equal(py2.url, `${shelf.url}/pypi-remote/packages/shelf-fix-py/shelf_fix_py-2.0.0-py3-none-any.whl`);

  const html = await fetch(`${index('pypi-remote')}shelf-fix-py/`, { headers: { accept: 'text/html' } });
  t.match(html.headers.get('content-type'), /^text\/html/);
  t.match(await html.text(), /data-requires-python="&gt;=3\.99"/);
  const preferred = await fetch(`${index('pypi-remote')}shelf-fix-py/`, {
    headers: { accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01' },
  });
  t.equal(preferred.headers.get('content-type'), 'application/vnd.pypi.simple.v1+json', 'as pip asks');
  t.equal((await fetch(`${index('pypi-remote')}shelf-fix-py/`, { headers: { accept: 'image/png' } })).status, 406);

  for (const [asked, normalized] of [['Shelf.Fix_Norm/', 'shelf-fix-norm/'], ['shelf-fix-a', 'shelf-fix-a/']]) {
    const response = await fetch(`${index('pypi-remote')}${asked}`, { redirect: 'manual' });
    t.equal(response.status, 301, asked);
    t.equal(response.headers.get('location'), `${index('pypi-remote')}${normalized}`);
  }
  const list = await (await fetch(index('pypi-remote'), { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json();
  t.same((list as { projects: { name: string }[] }).projects.map((p) => p.name), ['shelf-fix-a', 'shelf-fix-b', 'shelf-fix-big', 'shelf-fix-norm', 'shelf-fix-py']);
  t.equal((await fetch(`${index('pypi-remote')}no-such-project/`)).status, 404);
  t.equal((await fetch(`${shelf.url}/pypi-remote/packages/shelf-fix-a/..%2f..%2fetc%2fpasswd`)).status, 400);
});

t.test('a file whose bytes do not match the index hash is refused and not cached', async (t) => {
  const file = join(upstream.root, 'packages', 'shelf_fix_norm-0.1.0.tar.gz');
  const original = readFileSync(file);
  writeFileSync(file, Buffer.concat([original.subarray(0, -4), Buffer.from('evil')]));
  try {
    const env = pythonEnv(t);
    const result = await env.pip(index('pypi-live'), 'download', '--no-deps', '--no-binary', ':all:', '-d', 'dl', 'shelf.fix-norm');
    t.not(result.code, 0, 'pip does not get the tampered sdist');
    const direct = await fetch(`${shelf.url}/pypi-live/packages/shelf-fix-norm/shelf_fix_norm-0.1.0.tar.gz`);
    t.equal(direct.status, 502, 'a small file is checked before anything is sent (not 200 with zero bytes)');
    t.match(await direct.text(), /sent packages\/shelf-fix-norm\/shelf_fix_norm-0\.1\.0\.tar\.gz wrong/, 'and the answer says why');
    t.equal(upstream.requests('/packages/shelf_fix_norm-0.1.0.tar.gz').length, 2, 'not cached: each request asked upstream again');
  } finally {
    writeFileSync(file, original);
  }
  const repaired = await fetch(`${shelf.url}/pypi-live/packages/shelf-fix-norm/shelf_fix_norm-0.1.0.tar.gz`);
  t.equal(repaired.status, 200);
  t.same(Buffer.from(await repaired.arrayBuffer()), original);
});

t.test("a wheel cached without its .metadata still has it when the upstream is down: taken from the wheel", async (t) => {
  // An upstream that announces core metadata (PEP 658), as PyPI does.
  const wheelName = 'shelf_fix_a-1.0.0-py3-none-any.whl';
  const page = join(upstream.root, 'simple', 'shelf-fix-a', 'index.html');
  const original = readFileSync(page, 'utf8');
  const metadataText = await (async () => {
    const env = pythonEnv(t);
    const read = await env.python(`import zipfile; print(zipfile.ZipFile('${join(upstream.root, 'packages', wheelName)}').read('shelf_fix_a-1.0.0.dist-info/METADATA').decode(), end='')`);
    return read.stdout;
  })();
  const metadataSha = createHash('sha256').update(metadataText).digest('hex');
  unlinkSync(page);
  writeFileSync(page, original.replace(`>${wheelName}</a>`, ` data-core-metadata="sha256=${metadataSha}">${wheelName}</a>`));
  writeFileSync(join(upstream.root, 'packages', `${wheelName}.metadata`), metadataText);
  const pageThroughShelf = await (await fetch(`${index('pypi-meta')}shelf-fix-a/`)).text();
  t.match(pageThroughShelf, /data-core-metadata="sha256=/, 'the page announces it');
  // pip --require-hashes fetches the wheel and never its .metadata.
  t.equal((await fetch(`${shelf.url}/pypi-meta/packages/shelf-fix-a/${wheelName}`)).status, 200);
  upstream.stop();
  try {
    const metadata = await fetch(`${shelf.url}/pypi-meta/packages/shelf-fix-a/${wheelName}.metadata`);
    t.equal(metadata.status, 200, 'not 502');
    const text = await metadata.text();
    t.equal(text, metadataText, 'the wheel\'s own METADATA, which hashes as announced');
    t.equal(createHash('sha256').update(text).digest('hex'), metadataSha);
  } finally {
    await upstream.start();
  }
});
