import t from 'tap';
import { expectationFromDist, integrityOf } from '../../../src/formats/npm/integrity.js';
import { encodePackageName, splitPackageName, tarballFileName } from '../../../src/formats/npm/names.js';
import { parseNpmRoute } from '../../../src/formats/npm/npm-routes.js';

t.test('routes as npm, pnpm and yarn send them (segments already percent-decoded)', async (t) => {
  t.same(parseNpmRoute(['express']), { kind: 'package', name: 'express' });
  t.same(parseNpmRoute(['@scope/pkg']), { kind: 'package', name: '@scope/pkg' }, 'npm sends @scope%2fpkg');
  t.same(parseNpmRoute(['@scope', 'pkg']), { kind: 'package', name: '@scope/pkg' });
  t.same(parseNpmRoute(['@scope/pkg', '-rev', '3-abc']), { kind: 'package', name: '@scope/pkg', rev: '3-abc' });
  t.same(parseNpmRoute(['express', '4.18.2']), { kind: 'version', name: 'express', spec: '4.18.2' });
  t.same(parseNpmRoute(['express', 'latest']), { kind: 'version', name: 'express', spec: 'latest' });
  t.same(parseNpmRoute(['express', '-', 'express-4.18.2.tgz']), { kind: 'tarball', name: 'express', file: 'express-4.18.2.tgz' });
  t.same(parseNpmRoute(['@scope', 'pkg', '-', 'pkg-1.0.0.tgz']), { kind: 'tarball', name: '@scope/pkg', file: 'pkg-1.0.0.tgz' });
  t.same(parseNpmRoute(['@scope', 'pkg', '-', '@scope', 'pkg-1.0.0.tgz']), { kind: 'tarball', name: '@scope/pkg', file: 'pkg-1.0.0.tgz' }, 'npm publish links');
  t.same(parseNpmRoute(['pkg', '-', 'pkg-1.0.0.tgz', '-rev', '2-x']), { kind: 'tarball', name: 'pkg', file: 'pkg-1.0.0.tgz', rev: '2-x' });
  t.same(parseNpmRoute(['-', 'package', '@scope/pkg', 'dist-tags', 'beta']), { kind: 'dist-tags', name: '@scope/pkg', tag: 'beta' });
  t.same(parseNpmRoute(['-', 'package', 'pkg', 'dist-tags']), { kind: 'dist-tags', name: 'pkg' });
  t.same(parseNpmRoute(['-', 'v1', 'search']), { kind: 'search' });
  t.same(parseNpmRoute(['-', 'npm', 'v1', 'security', 'advisories', 'bulk']), { kind: 'audit', endpoint: 'advisories/bulk' });
  t.same(parseNpmRoute(['-', 'user', 'org.couchdb.user:alice']), { kind: 'login', username: 'alice' });
  t.same(parseNpmRoute(['-', 'whoami']), { kind: 'whoami' });
  t.same(parseNpmRoute(['-', 'ping']), { kind: 'ping' });
});

t.test('names and files that could escape or confuse are refused', async (t) => {
  for (const segments of [['..'], ['.npm', 'x'], ['_private'], ['a b'], ['@scope'], ['@/x'], ['pkg', '-', '../../x.tgz'], ['pkg', '-', 'x.exe'], ['pkg', 'a', 'b'], ['-', 'nope'], ['pkg', '..']]) {
    t.throws(() => parseNpmRoute(segments), undefined, segments.join('/'));
  }
  t.throws(() => splitPackageName(['x'.repeat(215)]));
  t.same(splitPackageName(['JSONStream']), { name: 'JSONStream', rest: [] }, 'legacy capitals can be read');
});

t.test('names as URLs and tarball files', async (t) => {
  t.equal(encodePackageName('@scope/pkg'), '@scope%2Fpkg');
  t.equal(encodePackageName('plain'), 'plain');
  t.equal(tarballFileName('@scope/pkg', '1.0.0'), 'pkg-1.0.0.tgz');
  t.equal(tarballFileName('pkg', '2.0.0-rc.1'), 'pkg-2.0.0-rc.1.tgz');
});

t.test('integrity strings and shasums become blob expectations', async (t) => {
  const sha512 = 'ab'.repeat(64);
  const sri = integrityOf(sha512);
  t.match(sri, /^sha512-/);
  t.same(expectationFromDist({ integrity: sri, shasum: 'CD'.repeat(20) }), { sha512, sha1: 'cd'.repeat(20) });
  t.same(expectationFromDist({ integrity: `sha1-${Buffer.from('ef'.repeat(20), 'hex').toString('base64')} ${sri}` }), { sha1: 'ef'.repeat(20), sha512 });
  t.same(expectationFromDist({ integrity: 'sha512-dG9vc2hvcnQ=', shasum: 'nothex' }), {}, 'wrong lengths and malformed values are ignored');
  t.same(expectationFromDist({ integrity: 'md5-abc' }), {});
  t.same(expectationFromDist(undefined), {});
});
