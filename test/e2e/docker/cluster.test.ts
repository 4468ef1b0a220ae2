import t from 'tap';
import { ociImages, pullCheck, pushImages, startRegistryWithImages } from '../../helpers/docker-harness.js';
import { startShelfProcess } from '../../helpers/shelf.js';

const images = ociImages();
const upstream = await startRegistryWithImages(t, images);

// `shelf serve` with two workers: a client's requests (upload chunks included) land on either process.
const shelf = await startShelfProcess(
  {
    repositories: [
      { key: 'docker-local', format: 'docker', type: 'local' },
      { key: 'hub', format: 'docker', type: 'remote', url: upstream.url },
    ],
  },
  2,
);
t.teardown(() => shelf.stop());
const host = shelf.url.replace('http://', '');

t.test('push and pull with skopeo through a cluster of two workers', async (t) => {
  await pushImages(`${host}/docker-local`, images);
  const local = await pullCheck(`${host}/docker-local`, images);
  t.equal(local.failed, 0, local.output);
  t.equal(shelf.workerPids().length, 2);
});

t.test('concurrent cold pulls through the cluster fetch each blob from upstream once', async (t) => {
  const results = await Promise.all([1, 2, 3].map(() => pullCheck(`${host}/hub`, images)));
  for (const result of results) t.equal(result.failed, 0, result.output);
  const blobGets = upstream.requests('/blobs/sha256:').filter((r) => r.startsWith('GET'));
  const bigImageGets = blobGets.filter((r) => r.includes('/v2/big/blob/'));
  t.equal(bigImageGets.length, 2, `the big image's config and layer: one GET each (${bigImageGets.join('; ')})`);
});
