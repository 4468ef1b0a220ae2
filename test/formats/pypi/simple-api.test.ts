import t from 'tap';
import { BASE_URL_PLACEHOLDER } from '../../../src/formats/document-views.js';
import { normalizeProject, versionOfFile } from '../../../src/formats/pypi/names.js';
import { buildProjectList, buildProjectView, type HostedFile } from '../../../src/formats/pypi/project-view.js';
import { negotiateSimple, parseProjectList, parseProjectPage, renderProjectHtml, renderProjectJson } from '../../../src/formats/pypi/simple-api.js';
import { compareVersions } from '../../../src/formats/pypi/versions.js';
import { parseCoreMetadata } from '../../../src/formats/pypi/wheel-metadata.js';

const SHA = 'a'.repeat(64);

t.test('PEP 503 HTML pages: links resolved, hashes, Requires-Python, yanked, core metadata', async (t) => {
  const html = `<!DOCTYPE html><html><body>
    <a href="../../packages/p-1.0-py3-none-any.whl#sha256=${SHA}" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=${'b'.repeat(64)}">p-1.0-py3-none-any.whl</a><br/>
    <a href="https://files.example.org/p-0.9.tar.gz#md5=${'c'.repeat(32)}" data-yanked="">p-0.9.tar.gz</a>
    <a href="p-0.8.tar.gz" data-yanked="broken build" data-core-metadata="true">p-0.8.tar.gz</a>
  </body></html>`;
  const files = parseProjectPage(html, 'text/html', 'http://up.example/simple/p/');
  t.same(files, [
    {
      filename: 'p-1.0-py3-none-any.whl',
      url: 'http://up.example/packages/p-1.0-py3-none-any.whl',
      hashes: { sha256: SHA },
      requiresPython: '>=3.8',
      coreMetadata: { sha256: 'b'.repeat(64) },
    },
    { filename: 'p-0.9.tar.gz', url: 'https://files.example.org/p-0.9.tar.gz', hashes: { md5: 'c'.repeat(32) }, yanked: true },
    { filename: 'p-0.8.tar.gz', url: 'http://up.example/simple/p/p-0.8.tar.gz', hashes: {}, yanked: 'broken build', coreMetadata: true },
  ]);
});

t.test('PEP 691 JSON pages and project lists', async (t) => {
  const json = JSON.stringify({
    meta: { 'api-version': '1.1' },
    name: 'p',
    files: [
      { filename: 'p-1.0.tar.gz', url: '/files/p-1.0.tar.gz', hashes: { sha256: SHA }, 'requires-python': '>=3', yanked: 'bad', 'core-metadata': { sha256: SHA }, size: 10, 'upload-time': '2024-01-01T00:00:00Z' },
      { filename: 'bad', hashes: {} },
    ],
  });
  t.same(parseProjectPage(json, 'application/vnd.pypi.simple.v1+json', 'https://up.example/simple/p/'), [
    { filename: 'p-1.0.tar.gz', url: 'https://up.example/files/p-1.0.tar.gz', hashes: { sha256: SHA }, requiresPython: '>=3', yanked: 'bad', coreMetadata: { sha256: SHA }, size: 10, uploadTime: '2024-01-01T00:00:00Z' },
  ]);
  t.same(parseProjectPage('{not json', 'application/vnd.pypi.simple.v1+json', 'http://x/'), []);
  t.same(parseProjectList('<a href="a/">A.B</a><a href="c/">c</a>', 'text/html'), ['A.B', 'c']);
  t.same(parseProjectList(JSON.stringify({ projects: [{ name: 'x' }, { nope: 1 }] }), 'application/vnd.pypi.simple.v1+json'), ['x']);
  t.match(buildProjectList({ kind: 'list', members: [['b', 'A.B'], { body: '<a>a_b</a><a>c</a>', contentType: 'text/html' }] }).texts.json, '"projects":[{"name":"a-b"},{"name":"b"},{"name":"c"}]');
});

t.test('rendered HTML escapes what it quotes', async (t) => {
  const html = renderProjectHtml('p', [{ filename: 'p-1.0.tar.gz', url: 'http://x/p?a=1&b=2', hashes: { sha256: SHA }, requiresPython: '<4,>=3"', yanked: '<script>' }]);
  t.match(html, `href="http://x/p?a=1&amp;b=2#sha256=${SHA}"`);
  t.match(html, 'data-requires-python="&lt;4,&gt;=3&quot;"');
  t.match(html, 'data-yanked="&lt;script&gt;"');
});

t.test('Accept negotiation by q-value; HTML by default', async (t) => {
  t.equal(negotiateSimple(undefined), 'html');
  t.equal(negotiateSimple('application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'), 'json');
  t.equal(negotiateSimple('application/vnd.pypi.simple.v1+json; q=0.2, text/html'), 'html');
  t.equal(negotiateSimple('*/*'), 'html');
  t.equal(negotiateSimple('application/vnd.pypi.simple.v1+json; q=0'), undefined);
  t.equal(negotiateSimple('image/png'), undefined);
});

t.test('project views: the first source owns a file name; links point at the served repository', async (t) => {
  const hosted: HostedFile = { filename: 'p-1.0.tar.gz', version: '1.0', sha256: SHA, md5: 'd'.repeat(32), size: 3, uploadTime: '2026-01-01T00:00:00.000Z', info: { summary: 'mine' } };
  const page = '<a href="p-1.0.tar.gz#sha256=' + 'e'.repeat(64) + '">p-1.0.tar.gz</a><a href="p-2.0rc1.tar.gz">p-2.0rc1.tar.gz</a><a href="p-1.10.tar.gz">p-1.10.tar.gz</a>';
  const view = buildProjectView({
    kind: 'page',
    project: 'p',
    servedRepo: 'pypi',
    sources: [
      { repo: 'local', kind: 'hosted', files: [hosted] },
      { repo: 'remote', kind: 'page', body: page, contentType: 'text/html', pageUrl: 'http://up/simple/p/' },
    ],
  })!;
  t.same(view.files.map((f) => f.filename), ['p-1.0.tar.gz', 'p-2.0rc1.tar.gz', 'p-1.10.tar.gz']);
  t.equal(view.refs['p-1.0.tar.gz']!.repo, 'local');
  t.equal(view.refs['p-2.0rc1.tar.gz']!.upstreamUrl, 'http://up/simple/p/p-2.0rc1.tar.gz');
  t.equal(view.files[0]!.url, `${BASE_URL_PLACEHOLDER}/pypi/packages/p/p-1.0.tar.gz`);
  t.same(view.versions, ['1.0', '1.10', '2.0rc1']);
  t.same(view.info, { summary: 'mine' });
  t.notMatch(view.texts.json, '"api-version":"1.1"', 'sizes unknown for upstream files: API 1.0');
  t.equal(buildProjectView({ kind: 'page', project: 'p', servedRepo: 'r', sources: [] }), undefined);
});

t.test('names, versions in file names, PEP 440 order, core metadata fields', async (t) => {
  t.equal(normalizeProject('Shelf.Fix__Norm-x'), 'shelf-fix-norm-x');
  t.equal(versionOfFile('shelf_fix_a-1.0.0-py3-none-any.whl'), '1.0.0');
  t.equal(versionOfFile('shelf_fix_a-1.0.0-1-py3-none-any.whl'), '1.0.0');
  t.equal(versionOfFile('zope.interface-5.4.0.tar.gz'), '5.4.0');
  t.equal(versionOfFile('name-with-dashes-2.0.zip'), '2.0');
  const sorted = ['1.0', '1.0.post1', '1.0a1', '1.0.dev1', '0.9', '1.0rc1', '1.0b2', '1!0.1', '1.10', '1.9', '1.0.0'].sort(compareVersions);
  t.same(sorted, ['0.9', '1.0.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0.0', '1.0.post1', '1.9', '1.10', '1!0.1']);
  t.same(parseCoreMetadata('Metadata-Version: 2.1\nName: p\nRequires-Dist: a\nRequires-Dist: b\nDescription: line one\n        line two\n\nbody: not a field'), {
    'metadata-version': ['2.1'],
    name: ['p'],
    'requires-dist': ['a', 'b'],
    description: ['line one\nline two'],
  });
});

t.test('PEP 714: core metadata is announced under its new name only (pip 22.3-23.1 crash on the legacy one)', async (t) => {
  const file = { filename: 'p-1.0-py3-none-any.whl', url: '/p.whl', hashes: { sha256: SHA }, coreMetadata: { sha256: SHA }, size: 1 };
  const html = renderProjectHtml('p', [file]);
  t.match(html, /data-core-metadata="sha256=/);
  t.notMatch(html, /dist-info-metadata/);
  const json = JSON.parse(renderProjectJson('p', [file], ['1.0'])) as { files: Record<string, unknown>[] };
  t.same(json.files[0]!['core-metadata'], { sha256: SHA });
  t.notOk('dist-info-metadata' in json.files[0]!);
});
