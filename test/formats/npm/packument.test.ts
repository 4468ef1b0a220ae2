import t from 'tap';
import { BASE_URL_PLACEHOLDER } from '../../../src/formats/document-views.js';
import { buildPackumentView, highestVersion, type PackumentSource } from '../../../src/formats/npm/packument.js';

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const manifest = (name: string, version: string, extra: Record<string, unknown> = {}) => ({
  name,
  version,
  description: `${name} ${version}`,
  dependencies: { dep: '^1.0.0' },
  scripts: { test: 'tap' },
  readme: 'long readme',
  dist: { tarball: `http://upstream.invalid/${name}/-/${name.replace(/^@.*\//, '')}-${version}.tgz`, integrity: `sha512-${version}`, shasum: 'a'.repeat(40) },
  ...extra,
});

function upstreamDocument(name: string, versions: string[], distTags: Record<string, string>): PackumentSource {
  return {
    repo: 'remote',
    kind: 'document',
    document: json({
      _id: name,
      _rev: '12-abc',
      name,
      description: 'from upstream',
      'dist-tags': distTags,
      versions: Object.fromEntries(versions.map((v) => [v, manifest(name, v)])),
      time: { created: '2020-01-01T00:00:00.000Z', modified: '2021-01-01T00:00:00.000Z', ...Object.fromEntries(versions.map((v) => [v, '2020-06-01T00:00:00.000Z'])) },
      _attachments: {},
    }),
  };
}

t.test('an upstream document: tarball links rewritten to the served repository, corgi derived', async (t) => {
  const view = buildPackumentView({ name: '@s/pkg', servedRepo: 'npm', sources: [upstreamDocument('@s/pkg', ['1.0.0', '1.1.0'], { latest: '1.1.0' })] })!;
  const full = JSON.parse(view.texts.full);
  t.equal(full.versions['1.0.0'].dist.tarball, `${BASE_URL_PLACEHOLDER}/npm/@s/pkg/-/pkg-1.0.0.tgz`);
  t.equal(full.description, 'from upstream');
  t.equal(full._rev, view.rev);
  t.notOk(full._attachments, 'internal fields of the upstream are not passed on');
  t.same(view.tarballs['pkg-1.0.0.tgz'], {
    version: '1.0.0',
    repo: 'remote',
    integrity: 'sha512-1.0.0',
    shasum: 'a'.repeat(40),
    upstreamUrl: 'http://upstream.invalid/@s/pkg/-/pkg-1.0.0.tgz',
  });
  const corgi = JSON.parse(view.texts.corgi);
  t.same(Object.keys(corgi).sort(), ['dist-tags', 'modified', 'name', 'versions']);
  t.equal(corgi.modified, '2021-01-01T00:00:00.000Z');
  t.same(Object.keys(corgi.versions['1.0.0']).sort(), ['dependencies', 'dist', 'name', 'version'], 'no description, scripts or readme');
  const span = view.versionSpans['1.1.0']!;
  t.equal(JSON.parse(view.texts.full.slice(span[0], span[1])).version, '1.1.0', 'version spans locate each manifest');
  t.equal(view.summary.version, '1.1.0');
});

t.test('install scripts are flagged in the abbreviated document', async (t) => {
  const doc: PackumentSource = {
    repo: 'r',
    kind: 'document',
    document: json({ name: 'native', versions: { '1.0.0': manifest('native', '1.0.0', { scripts: { install: 'node-gyp rebuild' } }) } }),
  };
  const corgi = JSON.parse(buildPackumentView({ name: 'native', servedRepo: 'r', sources: [doc] })!.texts.corgi);
  t.equal(corgi.versions['1.0.0'].hasInstallScript, true);
  t.equal(JSON.parse(buildPackumentView({ name: 'native', servedRepo: 'r', sources: [doc] })!.texts.full)['dist-tags'].latest, '1.0.0', 'latest defaults to the highest version');
});

t.test('hosted versions: time from publish dates, deprecations, package fields from latest', async (t) => {
  const hosted: PackumentSource = {
    repo: 'local',
    kind: 'hosted',
    distTags: { latest: '1.0.0', beta: '2.0.0-beta.1' },
    modifiedAt: Date.UTC(2026, 0, 3),
    versions: [
      { manifest: json(manifest('mine', '2.0.0-beta.1')), publishedAt: Date.UTC(2026, 0, 2) },
      { manifest: json(manifest('mine', '1.0.0', { description: 'the stable one' })), publishedAt: Date.UTC(2026, 0, 1), deprecated: 'use 2' },
    ],
  };
  const full = JSON.parse(buildPackumentView({ name: 'mine', servedRepo: 'npm-local', sources: [hosted] })!.texts.full);
  t.equal(full.time.created, '2026-01-01T00:00:00.000Z');
  t.equal(full.time.modified, '2026-01-03T00:00:00.000Z');
  t.equal(full.time['2.0.0-beta.1'], '2026-01-02T00:00:00.000Z');
  t.equal(full.versions['1.0.0'].deprecated, 'use 2');
  t.notOk(full.versions['2.0.0-beta.1'].deprecated);
  t.equal(full.description, 'the stable one', 'package fields come from the latest version');
  t.same(full['dist-tags'], { latest: '1.0.0', beta: '2.0.0-beta.1' });
});

t.test('merging: the first source owns a version; tags naming absent versions are dropped', async (t) => {
  const first: PackumentSource = {
    repo: 'a',
    kind: 'hosted',
    distTags: { latest: '1.0.0' },
    modifiedAt: Date.UTC(2026, 0, 1),
    versions: [{ manifest: json(manifest('p', '1.0.0', { marker: 'a' })), publishedAt: Date.UTC(2026, 0, 1) }],
  };
  const second = upstreamDocument('p', ['1.0.0', '2.0.0'], { latest: '2.0.0', next: '3.0.0', old: '1.0.0' });
  const view = buildPackumentView({ name: 'p', servedRepo: 'v', sources: [first, second] })!;
  const full = JSON.parse(view.texts.full);
  t.equal(full.versions['1.0.0'].marker, 'a');
  t.equal(view.tarballs['p-1.0.0.tgz']!.repo, 'a');
  t.equal(view.tarballs['p-2.0.0.tgz']!.repo, 'remote');
  t.same(full['dist-tags'], { latest: '1.0.0', old: '1.0.0' }, 'the owner\'s tags first; next names no version');
  t.equal(full.time.created, '2020-01-01T00:00:00.000Z', 'created is the earliest of the sources');
});

t.test('documents that are not packuments of the package are ignored', async (t) => {
  const other = upstreamDocument('other', ['1.0.0'], { latest: '1.0.0' });
  t.equal(buildPackumentView({ name: 'p', servedRepo: 'r', sources: [other] }), undefined);
  const garbage: PackumentSource = { repo: 'r', kind: 'document', document: new TextEncoder().encode('<html>') };
  t.equal(buildPackumentView({ name: 'p', servedRepo: 'r', sources: [garbage] }), undefined);
  const unpublished: PackumentSource = { repo: 'r', kind: 'document', document: json({ name: 'p', time: { unpublished: { time: 'x' } } }) };
  t.equal(buildPackumentView({ name: 'p', servedRepo: 'r', sources: [unpublished] }), undefined, 'an unpublished package has no versions');
  const badTarball: PackumentSource = {
    repo: 'r',
    kind: 'document',
    document: json({ name: 'p', versions: { '1.0.0': { ...manifest('p', '1.0.0'), dist: { tarball: 'http://x/p/-/..%2F..%2Fetc.tgz' } }, 'not-semver': manifest('p', '1.0.0') } }),
  };
  t.equal(buildPackumentView({ name: 'p', servedRepo: 'r', sources: [badTarball] }), undefined, 'versions without a usable tarball name are left out');
});

t.test('highestVersion prefers releases', async (t) => {
  t.equal(highestVersion(['1.0.0', '1.10.0', '1.9.0', '2.0.0-rc.1']), '1.10.0');
  t.equal(highestVersion(['2.0.0-rc.1', '2.0.0-rc.2']), '2.0.0-rc.2');
  t.equal(highestVersion([]), undefined);
});
