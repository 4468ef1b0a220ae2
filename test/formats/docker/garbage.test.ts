import { createHash } from 'node:crypto';
import t from 'tap';
import { dockerGarbage } from '../../../src/formats/docker/garbage.js';
import type { ArtifactRecord } from '../../../src/storage/metadata-index.js';

const OLD = 1_000;
const GC_START = 10_000;
const hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** A repository's entries: paths to the bytes they hold (documents are JSON), all stored long ago unless said. */
function entries(layout: Record<string, string | { body: string; createdAt?: number; modifiedAt?: number }>): ArtifactRecord[] {
  return Object.entries(layout)
    .map(([path, value]) => {
      const { body, createdAt = OLD, modifiedAt = createdAt } = typeof value === 'string' ? { body: value } : value;
      return {
        repo: 'docker-local',
        path,
        blob: { sha256: hex(body), size: body.length, sha1: '', md5: '', sha512: '' },
        contentType: body.includes('"manifests"') ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json',
        createdAt,
        modifiedAt,
        downloadedAt: null,
        downloadCount: 0,
        body,
      };
    })
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

const manifest = (config: string, layers: string[], subject?: string) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${hex(config)}`, size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${hex(l)}`, size: l.length })),
    ...(subject && { subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject, size: 1 } }),
  });
const index = (children: string[]) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: children.map((c) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex(c)}`, size: c.length })),
  });
const d = (body: string) => `sha256:${hex(body)}`;

async function garbage(records: ArtifactRecord[], deleteUntagged: boolean): Promise<string[]> {
  const bodies = new Map(records.map((r) => [r.blob.sha256, (r as unknown as { body: string }).body]));
  const found: string[] = [];
  const listing = (async function* () {
    yield* records;
  })();
  for await (const record of dockerGarbage(listing, { storedBefore: GC_START, deleteUntagged, read: async (r) => Buffer.from(bodies.get(r.blob.sha256)!) })) {
    found.push(record.path);
  }
  return found.sort();
}

const tagged = manifest('cfg-1', ['layer-a', 'layer-b']);
const untagged = manifest('cfg-2', ['layer-b', 'layer-c']);
const amd64 = manifest('cfg-amd', ['layer-x']);
const arm64 = manifest('cfg-arm', ['layer-y']);
const multi = index([amd64, arm64]);
const signature = manifest('cfg-sig', ['sig'], d(tagged));
const layout = {
  [`app/_tags/1.0`]: tagged,
  [`app/_manifests/${d(tagged)}`]: tagged,
  [`app/_manifests/${d(untagged)}`]: untagged,
  [`app/_manifests/${d(signature)}`]: signature,
  [`app/_referrers/${d(tagged)}/${d(signature)}`]: signature,
  ...Object.fromEntries(['cfg-1', 'cfg-2', 'cfg-sig', 'layer-a', 'layer-b', 'layer-c', 'sig', 'orphan'].map((b) => [`app/_blobs/${d(b)}`, b])),
  [`multi/_tags/1.0`]: multi,
  [`multi/_manifests/${d(multi)}`]: multi,
  [`multi/_manifests/${d(amd64)}`]: amd64,
  [`multi/_manifests/${d(arm64)}`]: arm64,
  ...Object.fromEntries(['cfg-amd', 'cfg-arm', 'layer-x', 'layer-y'].map((b) => [`multi/_blobs/${d(b)}`, b])),
};

t.test('without deleteUntagged: only layers and configs no manifest refers to', async (t) => {
  t.same(await garbage(entries(layout), false), [`app/_blobs/${d('orphan')}`]);
});

t.test('with deleteUntagged: untagged manifests and what only they used; index children and referrers of kept ones stay', async (t) => {
  t.same(await garbage(entries(layout), true), [
    `app/_blobs/${d('cfg-2')}`,
    `app/_blobs/${d('layer-c')}`,
    `app/_blobs/${d('orphan')}`,
    `app/_manifests/${d(untagged)}`,
  ].sort());
});

t.test('entries stored or renewed during the grace period stay: a push may be under way', async (t) => {
  const pushing = {
    ...layout,
    [`app/_blobs/${d('orphan')}`]: { body: 'orphan', createdAt: GC_START + 1 },
    [`app/_manifests/${d(untagged)}`]: { body: untagged, createdAt: GC_START + 1 },
    [`app/_blobs/${d('layer-c')}`]: { body: 'layer-c', modifiedAt: GC_START + 1 },
  };
  t.same(await garbage(entries(pushing), true), [], 'the young manifest keeps its layers, the renewed layer stays');
});

t.test('a manifest that cannot be parsed fails the run instead of losing what it refers to', async (t) => {
  const broken = entries({ ...layout, [`app/_manifests/${d('not json')}`]: 'not json', [`app/_tags/2.0`]: 'not json' });
  await t.rejects(garbage(broken, true), { code: 'MANIFEST_INVALID' });
});
