import t from 'tap';
import { checkDigest, checkImageName, dockerPaths, parseDockerPath } from '../../../src/formats/docker/names.js';
import { parseRegistryRoute } from '../../../src/formats/docker/registry-routes.js';

const digest = `sha256:${'f'.repeat(64)}`;

t.test('registry routes are read from the end, so names may have several components', async (t) => {
  t.same(parseRegistryRoute([]), { op: 'base' });
  t.same(parseRegistryRoute(['']), { op: 'base' });
  t.same(parseRegistryRoute(['_catalog']), { op: 'catalog' });
  t.same(parseRegistryRoute(['r', 'team', 'app', 'manifests', '1.0']), { op: 'manifest', name: ['r', 'team', 'app'], reference: '1.0' });
  t.same(parseRegistryRoute(['r', 'a', 'tags', 'list']), { op: 'tags', name: ['r', 'a'] });
  t.same(parseRegistryRoute(['r', 'a', 'blobs', 'uploads', '']), { op: 'uploadStart', name: ['r', 'a'] });
  t.same(parseRegistryRoute(['r', 'a', 'blobs', 'uploads', 'id']), { op: 'upload', name: ['r', 'a'], id: 'id' });
  t.same(parseRegistryRoute(['r', 'a', 'blobs', digest]), { op: 'blob', name: ['r', 'a'], digest });
  t.same(parseRegistryRoute(['r', 'a', 'referrers', digest]), { op: 'referrers', name: ['r', 'a'], digest });
  t.same(parseRegistryRoute(['manifests', 'x']), undefined, 'a route needs a name');
  t.same(parseRegistryRoute(['r', 'a', 'nothing']), undefined);
});

t.test('image names follow the distribution grammar', async (t) => {
  t.equal(checkImageName(['library', 'busybox']), 'library/busybox');
  t.equal(checkImageName(['a.b', 'c__d', 'e--f']), 'a.b/c__d/e--f');
  for (const bad of [['UPPER'], ['..'], ['a', ''], ['-a'], ['a/b'], ['_tags'], []]) {
    t.throws(() => checkImageName(bad), { code: 'NAME_INVALID' }, JSON.stringify(bad));
  }
});

t.test('digests: sha256 only, other algorithms UNSUPPORTED, garbage DIGEST_INVALID', async (t) => {
  t.equal(checkDigest(digest), digest);
  t.throws(() => checkDigest(`sha512:${'a'.repeat(128)}`), { code: 'UNSUPPORTED' });
  t.throws(() => checkDigest('sha256:xyz'), { code: 'DIGEST_INVALID' });
  t.throws(() => checkDigest(null), { code: 'DIGEST_INVALID' });
});

t.test('the repository layout parses back, and one image\'s tags cannot collide with another image', async (t) => {
  t.same(parseDockerPath(dockerPaths.tag('team/app', '1.0')), { image: 'team/app', kind: 'tag', reference: '1.0' });
  t.same(parseDockerPath(dockerPaths.manifest('a', digest)), { image: 'a', kind: 'manifest', reference: digest });
  t.same(parseDockerPath(dockerPaths.blob('a/b/c', digest)), { image: 'a/b/c', kind: 'blob', reference: digest });
  t.same(parseDockerPath(dockerPaths.upstreamTagList('a')), { image: 'a', kind: 'tagList', reference: '' });
  const subject = `sha256:${'e'.repeat(64)}`;
  t.same(parseDockerPath(dockerPaths.referrer('a', subject, digest)), { image: 'a', kind: 'referrer', reference: digest, subject });
  t.equal(parseDockerPath('plain/file'), undefined);
});
