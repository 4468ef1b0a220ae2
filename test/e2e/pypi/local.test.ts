import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pypiFixtures, pythonEnv, startPypiUpstream } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const fixtures = pypiFixtures();
const upload = (file: string) => join(fixtures, 'uploads', file);
const dist = (file: string) => join(fixtures, 'dists', file);
const upstream = await startPypiUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'pypi-local', format: 'pypi', type: 'local' },
    { key: 'pypi-team', format: 'pypi', type: 'local' },
    { key: 'pypi-remote', format: 'pypi', type: 'remote', url: `${upstream.url}simple/` },
    {
      key: 'pypi',
      format: 'pypi',
      type: 'virtual',
      members: ['pypi-local', 'pypi-team', 'pypi-remote'],
      defaultDeployRepo: 'pypi-local',
      packageRoutes: [{ packages: ['corp-*'], members: ['pypi-local'] }],
    },
  ],
});
t.teardown(() => shelf.stop());
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

t.test('twine uploads to the virtual land in its deploy repository; pip installs them back', async (t) => {
  const env = pythonEnv(t);
  const uploaded = await env.twine(`${shelf.url}/pypi/`, upload('shelf_upload-1.0.0-py3-none-any.whl'), upload('shelf_upload-1.0.0.tar.gz'));
  t.equal(uploaded.code, 0, uploaded.stderr + uploaded.stdout);
  const page = await (await fetch(`${shelf.url}/pypi-local/simple/shelf-upload/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  t.same(page.files.map((f: { filename: string }) => f.filename), ['shelf_upload-1.0.0-py3-none-any.whl', 'shelf_upload-1.0.0.tar.gz']);
  t.same(page.versions, ['1.0.0']);
  const wheel = page.files[0];
  t.equal(wheel.hashes.sha256, sha256(readFileSync(upload('shelf_upload-1.0.0-py3-none-any.whl'))));
  t.equal(wheel['requires-python'], '>=3.8', 'Requires-Python from the upload');
  t.equal(wheel.size, readFileSync(upload('shelf_upload-1.0.0-py3-none-any.whl')).length);

  // PEP 658: the wheel's METADATA, served beside it and named by its hash.
  const metadata = await fetch(`${wheel.url.replace('/pypi-local/', '/pypi/')}.metadata`);
  const text = await metadata.text();
  t.match(text, /^Name: shelf-upload$/m);
  t.match(text, /^Requires-Dist: shelf-fix-b>=2$/m);
  t.same(wheel['core-metadata'], { sha256: sha256(Buffer.from(text)) });
  t.equal((await fetch(`${shelf.url}/pypi/packages/shelf-upload/shelf_upload-1.0.0.tar.gz.metadata`)).status, 404, 'sdists have none');

  const installed = await env.pip(`${shelf.url}/pypi/simple/`, 'install', 'shelf-upload');
  t.equal(installed.code, 0, installed.stderr);
  t.equal((await env.python('import shelf_upload, shelf_fix_b; print(shelf_upload.VERSION, shelf_fix_b.VERSION)')).stdout.trim(), '1.0.0 2.0.0', 'its dependency came from the remote member');
});

t.test('a file name is uploaded once', async (t) => {
  const env = pythonEnv(t);
  const again = await env.twine(`${shelf.url}/pypi-local/`, upload('shelf_upload-1.0.0.tar.gz'));
  t.not(again.code, 0);
  t.match(again.stdout + again.stderr, 'File already exists');
  const skipped = await env.twine(`${shelf.url}/pypi-local/`, '--skip-existing', upload('shelf_upload-1.0.0.tar.gz'), upload('shelf_upload-1.1.0.tar.gz'));
  t.equal(skipped.code, 0, 'twine --skip-existing recognises the answer');
  t.match(skipped.stdout + skipped.stderr, /Skipping shelf_upload-1\.0\.0\.tar\.gz/);
  const json = await (await fetch(`${shelf.url}/pypi/pypi/shelf-upload/json`)).json() as any;
  t.equal(json.info.version, '1.1.0');
  t.equal(json.info.summary, 'Shelf test fixture');
  t.same(Object.keys(json.releases).sort(), ['1.0.0', '1.1.0']);
  t.same(json.urls.map((u: { filename: string }) => u.filename), ['shelf_upload-1.1.0.tar.gz']);
  const v1 = await (await fetch(`${shelf.url}/pypi/pypi/shelf-upload/1.0.0/json`)).json() as any;
  t.equal(v1.info.version, '1.0.0');
  t.equal(v1.urls.length, 2);
  t.same(v1.info.requires_dist, ['shelf-fix-b>=2'], "requires_dist from the wheel's core metadata");
  t.equal(json.info.requires_dist, null, 'unknown for a version with no wheel');
  t.equal((await fetch(`${shelf.url}/pypi/pypi/shelf-upload/9.9/json`)).status, 404);
});

t.test('yanked hosted files are marked (PEP 592) and pip passes over them', async (t) => {
  const yank = (file: string, method: string, reason = '') =>
    fetch(`${shelf.url}/api/pypi/pypi/yank/shelf-upload/${file}`, { method, body: method === 'PUT' ? reason : null });
  t.equal((await yank('shelf_upload-1.0.0-py3-none-any.whl', 'PUT', 'broken build')).status, 200, 'through the virtual, to its deploy repository');
  t.equal((await yank('shelf_upload-1.0.0.tar.gz', 'PUT')).status, 200);
  t.equal((await yank('shelf_upload-9.9.tar.gz', 'PUT')).status, 404);
  const page = await (await fetch(`${shelf.url}/pypi/simple/shelf-upload/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  const yanked = Object.fromEntries(page.files.map((f: { filename: string; yanked?: unknown }) => [f.filename, f.yanked]));
  t.equal(yanked['shelf_upload-1.0.0-py3-none-any.whl'], 'broken build');
  t.equal(yanked['shelf_upload-1.0.0.tar.gz'], true, 'yanked without a reason');
  t.equal(yanked['shelf_upload-1.1.0.tar.gz'], undefined);
  t.match(await (await fetch(`${shelf.url}/pypi/simple/shelf-upload/`)).text(), 'data-yanked="broken build"');

  const env = pythonEnv(t);
  const range = await env.pip(`${shelf.url}/pypi/simple/`, 'download', '--no-deps', '--only-binary', ':all:', '-d', 'dl', 'shelf-upload<1.1');
  t.not(range.code, 0, 'a range does not pick a yanked version');
  const pinned = await env.pip(`${shelf.url}/pypi/simple/`, 'download', '--no-deps', '--only-binary', ':all:', '-d', 'dl', 'shelf-upload==1.0.0');
  t.equal(pinned.code, 0, `an exact pin still does: ${pinned.stderr}`);
  t.match(pinned.stderr, /yanked/i, 'with pip\'s warning');

  t.equal((await yank('shelf_upload-1.0.0-py3-none-any.whl', 'DELETE')).status, 200);
  const after = await (await fetch(`${shelf.url}/pypi/simple/shelf-upload/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  t.equal(after.files.find((f: { filename: string }) => f.filename === 'shelf_upload-1.0.0-py3-none-any.whl').yanked, undefined, 'unyanked');
});

/** A twine-shaped upload made by hand, to send what twine never would. */
async function rawUpload(repo: string, file: Buffer, filename: string, fields: Record<string, string>) {
  const form = new FormData();
  for (const [name, value] of Object.entries({ ':action': 'file_upload', protocol_version: '1', ...fields })) form.append(name, value);
  form.append('content', new Blob([file]), filename);
  return fetch(`${shelf.url}/${repo}/`, { method: 'POST', body: form });
}

t.test('uploads that lie or do not fit are refused and leave nothing', async (t) => {
  const bytes = readFileSync(upload('shelf_upload-1.1.0-py3-none-any.whl'));
  const good = { name: 'shelf-upload', version: '1.1.0', sha256_digest: sha256(bytes), md5_digest: createHash('md5').update(bytes).digest('hex') };
  const cases: [string, Buffer, string, Record<string, string>][] = [
    ['wrong sha256', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, sha256_digest: 'a'.repeat(64) }],
    ['wrong md5', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, md5_digest: 'b'.repeat(32) }],
    ['wrong blake2', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, blake2_256_digest: 'c'.repeat(64) }],
    ['another project', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, name: 'other-project' }],
    ['another version', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, version: '2.0' }],
    ['traversal', bytes, '../shelf_upload-1.1.0-py3-none-any.whl', good],
    ['not a wheel', Buffer.from('not a zip'), 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, sha256_digest: sha256(Buffer.from('not a zip')), md5_digest: '' }],
    ['no digest', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { name: 'shelf-upload', version: '1.1.0' }],
  ];
  for (const [what, body, filename, fields] of cases) {
    const response = await rawUpload('pypi-local', body, filename, fields);
    t.equal(response.status, 400, `${what}: ${await response.text()}`);
  }
  const form = await fetch(`${shelf.url}/pypi-local/`, { method: 'POST', body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(form.status, 400, 'not multipart');
  const page = await (await fetch(`${shelf.url}/pypi-local/simple/shelf-upload/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  t.notOk(page.files.some((f: { filename: string }) => f.filename === 'shelf_upload-1.1.0-py3-none-any.whl'), 'none of them was stored');
  t.equal((await fetch(`${shelf.url}/pypi-local/packages/shelf-upload/shelf_upload-1.1.0-py3-none-any.whl`)).status, 404);

  const accepted = await rawUpload('pypi-local', bytes, 'shelf_upload-1.1.0-py3-none-any.whl', { ...good, blake2_256_digest: '' });
  t.equal(accepted.status, 200, 'the same file with honest digests is accepted');
  t.equal((await rawUpload('pypi-remote', bytes, 'x-1.0.tar.gz', good)).status, 405, 'a remote repository takes no uploads');
});

t.test('a local project hides the remote project of the same normalized name', async (t) => {
  const env = pythonEnv(t);
  // The remote has shelf-fix-norm 0.1.0 (as Shelf.Fix_Norm); a local upload of that project hides it.
  t.equal((await fetch(`${shelf.url}/pypi-remote/simple/shelf-fix-norm/`)).status, 200);
  const bytes = readFileSync(dist('shelf_fix_norm-0.1.0-py3-none-any.whl'));
  const renamed = await rawUpload('pypi-team', bytes, 'shelf_fix_norm-0.1.0-py3-none-any.whl', { name: 'SHELF_fix.norm', version: '0.1.0', sha256_digest: sha256(bytes) });
  t.equal(renamed.status, 200, await renamed.text());
  const merged = await (await fetch(`${shelf.url}/pypi/simple/shelf-fix-norm/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  t.same(merged.files.map((f: { filename: string }) => f.filename), ['shelf_fix_norm-0.1.0-py3-none-any.whl'], 'only the hosted file, not the remote sdist');
  t.match(merged.files[0].url, '/pypi/packages/shelf-fix-norm/');
  t.equal((await fetch(`${shelf.url}/pypi/packages/shelf-fix-norm/shelf_fix_norm-0.1.0.tar.gz`)).status, 404, 'the remote sdist is not reachable through the virtual');
  const installed = await env.pip(`${shelf.url}/pypi/simple/`, 'install', 'shelf.fix-norm');
  t.equal(installed.code, 0, installed.stderr);
  t.match(installed.stdout, `${shelf.url}/pypi/packages/shelf-fix-norm/shelf_fix_norm-0.1.0-py3-none-any.whl`);

  const before = upstream.requests('/simple/corp-secret/').length;
  t.equal((await fetch(`${shelf.url}/pypi/simple/corp-secret/`)).status, 404);
  t.equal(upstream.requests('/simple/corp-secret/').length, before, 'packageRoutes keep corp-* away from the upstream');
  const list = await (await fetch(`${shelf.url}/pypi/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  const names = list.projects.map((p: { name: string }) => p.name);
  t.ok(names.includes('shelf-upload') && names.includes('shelf-fix-a'), 'the project list is the union of the members');
});

t.test('a remote whose upstream answers PEP 691 JSON (another Shelf)', async (t) => {
  const downstream = await startShelf({
    repositories: [{ key: 'chained', format: 'pypi', type: 'remote', url: `${shelf.url}/pypi/simple/` }],
  });
  t.teardown(() => downstream.stop());
  const env = pythonEnv(t);
  const installed = await env.pip(`${downstream.url}/chained/simple/`, 'install', 'shelf-upload==1.0.0');
  t.equal(installed.code, 0, installed.stderr);
  t.match(installed.stdout, `${downstream.url}/chained/packages/shelf-upload/shelf_upload-1.0.0-py3-none-any.whl`);
  const page = await (await fetch(`${downstream.url}/chained/simple/shelf-upload/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json() as any;
  const wheel = page.files.find((f: { filename: string }) => f.filename === 'shelf_upload-1.0.0-py3-none-any.whl');
  t.equal(wheel.size, readFileSync(upload('shelf_upload-1.0.0-py3-none-any.whl')).length, 'sizes and upload times come through the JSON form');
  t.ok(wheel['core-metadata'], 'so does the core metadata declaration');
  const metadata = await fetch(`${wheel.url}.metadata`);
  t.equal(metadata.status, 200, 'and the metadata file is fetched from the upstream and verified');
  t.match(await metadata.text(), /^Name: shelf-upload$/m);
});

t.test("Debian 12's own pip (23.0.1) installs wheels with core metadata through Shelf", async (t) => {
  const env = pythonEnv(t, '/usr/bin/python3');
  const version = await env.python('import pip; print(pip.__version__)');
  t.comment(`pip ${version.stdout.trim()}`);
  const installed = await env.pip(`${shelf.url}/pypi/simple/`, 'install', 'shelf-upload');
  t.equal(installed.code, 0, `no "unhashable type: 'dict'": ${installed.stderr}`);
  const imported = await env.python('import shelf_upload, shelf_fix_b; print(shelf_fix_b.VERSION)');
  t.equal(imported.code, 0, imported.stderr);
});

t.test('project pages carry an ETag and Cache-Control, so pip revalidates with a 304', async (t) => {
  for (const accept of ['text/html', 'application/vnd.pypi.simple.v1+json']) {
    const page = await fetch(`${shelf.url}/pypi/simple/shelf-upload/`, { headers: { accept } });
    t.equal(page.status, 200);
    const etag = page.headers.get('etag');
    t.ok(etag, `${accept}: an ETag`);
    t.match(page.headers.get('cache-control'), /max-age=0/);
    const again = await fetch(`${shelf.url}/pypi/simple/shelf-upload/`, { headers: { accept, 'if-none-match': etag! } });
    t.equal(again.status, 304, 'unchanged: 304');
  }
});
