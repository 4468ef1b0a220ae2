import t from 'tap';
import { acceptedTypes, defaultPlatformManifest, parseManifest } from '../../../src/formats/docker/manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const oci = 'application/vnd.oci.image.manifest.v1+json';
const image = (extra: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: oci,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 10 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 20 }],
      ...extra,
    }),
  );

t.test('an image manifest names its config and layers as the blobs it needs', async (t) => {
  const parsed = parseManifest(image(), oci);
  t.equal(parsed.mediaType, oci);
  t.same(parsed.blobs, [d('a'), d('b')]);
  t.equal(parsed.artifactType, 'application/vnd.oci.image.config.v1+json', 'typed by its config without artifactType');
});

t.test('an index names its children; subject and artifactType are kept', async (t) => {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      artifactType: 'application/x-example',
      manifests: [{ mediaType: oci, digest: d('c'), size: 5, platform: { os: 'linux', architecture: 'arm64' } }],
      subject: { mediaType: oci, digest: d('e'), size: 7 },
    }),
  );
  const parsed = parseManifest(index, undefined);
  t.same(parsed.manifests.map((m) => m.digest), [d('c')]);
  t.equal(parsed.subject?.digest, d('e'));
  t.equal(parsed.artifactType, 'application/x-example');
});

t.test('a manifest without mediaType is recognised by its shape', async (t) => {
  const body = JSON.parse(image().toString()) as Record<string, unknown>;
  delete body.mediaType;
  t.equal(parseManifest(Buffer.from(JSON.stringify(body)), 'application/json').mediaType, oci);
});

t.test('invalid manifests are refused with MANIFEST_INVALID', async (t) => {
  const cases: [string, Buffer, string | undefined][] = [
    ['not JSON', Buffer.from('{'), oci],
    ['schema 1', Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [] })), undefined],
    ['schema 1 by content type', image(), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['mismatched content type', image(), 'application/vnd.docker.distribution.manifest.v2+json'],
    ['bad digest', image({ layers: [{ mediaType: 'x', digest: 'sha256:nothex', size: 1 }] }), oci],
    ['negative size', image({ layers: [{ mediaType: 'x', digest: d('b'), size: -1 }] }), oci],
    ['layers not an array', image({ layers: {} }), oci],
    ['unknown media type', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain' })), undefined],
    ['array', Buffer.from('[]'), oci],
  ];
  for (const [name, body, type] of cases) {
    t.throws(() => parseManifest(body, type), { code: 'MANIFEST_INVALID' }, name);
  }
});

t.test('Accept: listed types, q=0 excluded, wildcards accept anything', async (t) => {
  t.same([...acceptedTypes(`${oci}, application/vnd.docker.distribution.manifest.v2+json;q=0.5`)!], [
    oci,
    'application/vnd.docker.distribution.manifest.v2+json',
  ]);
  t.same([...acceptedTypes(`${oci};q=0, application/json`)!], ['application/json']);
  t.equal(acceptedTypes(undefined), undefined);
  t.equal(acceptedTypes('*/*'), undefined);
});

t.test('the linux/amd64 entry of a manifest list', async (t) => {
  const list = Buffer.from(
    JSON.stringify({
      manifests: [
        { digest: d('1'), platform: { os: 'linux', architecture: 'arm64' } },
        { digest: d('2'), platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }),
  );
  t.equal(defaultPlatformManifest(list), d('2'));
  t.equal(defaultPlatformManifest(Buffer.from('{"manifests":[]}')), undefined);
});
