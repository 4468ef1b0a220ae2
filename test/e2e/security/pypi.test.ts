import { join } from 'node:path';
import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { pypiFixtures, pythonEnv, startPypiUpstream } from '../../helpers/pypi-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const fixtures = pypiFixtures();
const upload = (file: string) => join(fixtures, 'uploads', file);
const upstream = await startPypiUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'pypi-local', format: 'pypi', type: 'local' },
    { key: 'pypi-remote', format: 'pypi', type: 'remote', url: `${upstream.url}/simple/` },
  ],
  security: {
    permissions: [
      { name: 'cache', repositories: ['ANY REMOTE'], anonymous: ['read'] },
      { name: 'shelf-projects', repositories: ['pypi-local'], includes: ['shelf-*'], users: { uploader: ['read', 'write'] } },
      { name: 'corp-projects', repositories: ['pypi-local'], includes: ['corp-*'], users: { outsider: ['read', 'write'] } },
      { name: 'readers', repositories: ['pypi-local'], groups: { readers: ['read'] } },
    ],
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
for (const name of ['uploader', 'outsider', 'reader']) await identity.addUser({ name, password: `${name}-password` });
await shelf.app.index.putGroup({ name: 'readers', description: '', members: ['reader'] });
const local = `${shelf.url}/pypi-local/`;
const withCredentials = (url: string, credentials: string) => url.replace('://', `://${credentials}@`);

t.test('twine upload: 401 for bad credentials, 403 read-only or outside the pattern, 200 for the uploader', async (t) => {
  const env = pythonEnv(t);
  const wheel = upload('shelf_upload-1.0.0-py3-none-any.whl');
  const wrong = await env.twineAs('uploader:wrong', local, wheel);
  t.not(wrong.code, 0);
  t.match(wrong.stdout + wrong.stderr, /401|Unauthorized|invalid credentials/i);
  const readOnly = await env.twineAs('reader:reader-password', local, wheel);
  t.not(readOnly.code, 0);
  t.match(readOnly.stdout + readOnly.stderr, /403/);
  const outsider = await env.twineAs('outsider:outsider-password', local, wheel);
  t.not(outsider.code, 0, 'corp-* does not cover shelf-upload');
  t.match(outsider.stdout + outsider.stderr, /outsider may not write shelf-upload/);
  t.equal((await fetch(`${shelf.url}/pypi-local/simple/shelf-upload/`, { headers: { authorization: `Basic ${Buffer.from('reader:reader-password').toString('base64')}` } })).status, 404, 'nothing was stored');
  const ok = await env.twineAs('uploader:uploader-password', local, wheel);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  const token = (await identity.issueToken('uploader', 'ci')).token;
  const otherName = await env.twineAs(`outsider:${token}`, local, upload('shelf_upload-1.0.0.tar.gz'));
  t.not(otherName.code, 0, "a token is tied to its user's name");
  const withToken = await env.twineAs(`__token__:${token}`, local, upload('shelf_upload-1.0.0.tar.gz'));
  t.equal(withToken.code, 0, `PyPI's convention, -u __token__, works: ${withToken.stdout + withToken.stderr}`);
});

t.test('the project list names only the projects the caller may read', async (t) => {
  const list = async (user: string) => {
    const response = await fetch(`${local}simple/`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${user}-password`).toString('base64')}`, accept: 'application/vnd.pypi.simple.v1+json' },
    });
    t.equal(response.status, 200);
    return ((await response.json()) as { projects: { name: string }[] }).projects.map((p) => p.name);
  };
  t.ok((await list('reader')).includes('shelf-upload'), 'a reader of the whole repository sees it');
  t.notOk((await list('outsider')).includes('shelf-upload'), 'corp-* readers do not');
  t.ok((await list('uploader')).includes('shelf-upload'));
});

t.test('pip: anonymous from the remote, credentials in the index URL for hosted projects', async (t) => {
  const env = pythonEnv(t);
  // pip without credentials (and no prompt) treats the 401 as an empty page.
  const anonymous = await env.pip(`${local}simple/`, 'install', '--no-deps', 'shelf-upload');
  t.not(anonymous.code, 0);
  t.match(anonymous.stderr, /No matching distribution found for shelf-upload/);
  const page = await fetch(`${local}simple/shelf-upload/`);
  t.equal(page.status, 401);
  t.match(page.headers.get('www-authenticate'), /^Basic realm="Shelf"/, 'the challenge pip answers with credentials from keyring or netrc');
  const cached = await env.pip(`${shelf.url}/pypi-remote/simple/`, 'install', 'shelf-fix-a');
  t.equal(cached.code, 0, cached.stderr);
  const reader = await env.pip(withCredentials(`${local}simple/`, 'reader:reader-password'), 'install', '--no-deps', 'shelf-upload');
  t.equal(reader.code, 0, reader.stderr);
  t.notMatch(reader.stdout + reader.stderr, /reader-password/, 'pip does not print the password');
});

t.test('yanking needs annotate', async (t) => {
  const yank = (credentials: string) =>
    fetch(`${shelf.url}/api/pypi/pypi-local/yank/shelf-upload/shelf_upload-1.0.0.tar.gz`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
    });
  t.equal((await yank('uploader:uploader-password')).status, 403);
  await identity.addUser({ name: 'curator', password: 'curator-password' });
  await shelf.app.index.putPermissionTarget({
    name: 'curators', repositories: ['pypi-local'], includes: ['**'], excludes: [], anonymous: [], users: { curator: ['annotate'] }, groups: {},
  });
  t.equal((await yank('curator:curator-password')).status, 200, 'a target added at run time applies at once');
});
