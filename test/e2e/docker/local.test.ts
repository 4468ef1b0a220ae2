import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { layoutDigest, ociImages, pullCheck, pushImages, skopeo } from '../../helpers/docker-harness.js';
import { startShelf, TEST_USER } from '../../helpers/shelf.js';

const images = ociImages();
const shelf = await startShelf({
  repositories: [
    { key: 'docker-local', format: 'docker', type: 'local' },
    { key: 'docker-release', format: 'docker', type: 'local', immutableTags: true, allowDelete: false },
    { key: 'docker-few', format: 'docker', type: 'local', maxUniqueTags: 2 },
    { key: 'docker-other', format: 'docker', type: 'local' },
    { key: 'docker-cache', format: 'docker', type: 'remote', url: 'http://127.0.0.1:9', offline: true },
    { key: 'docker', format: 'docker', type: 'virtual', members: ['docker-local', 'docker-other'], defaultDeployRepo: 'docker-local' },
    { key: 'docker-newest', format: 'docker', type: 'virtual', members: ['docker-local', 'docker-other'], resolveDockerTagsByTimestamp: true },
  ],
  docker: { defaultRepository: 'docker' },
});
t.teardown(() => shelf.stop());
const host = shelf.url.replace('http://', '');
const v2 = `${shelf.url}/v2`;
const TEST_AUTH = `Basic ${Buffer.from(`${TEST_USER.name}:${TEST_USER.password}`).toString('base64')}`;

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const errorCode = async (res: Response) => ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;

/** Pushes a blob monolithically and returns its digest. */
async function pushBlob(name: string, data: Buffer | string): Promise<string> {
  const digest = sha256(data);
  const res = await fetch(`${v2}/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
  if (res.status !== 201) throw new Error(`blob push: ${res.status} ${await res.text()}`);
  return digest;
}

/** An OCI image manifest over a config and one layer, pushed as blobs first. */
async function pushImage(name: string, tag: string, layerText: string, extra: Record<string, unknown> = {}) {
  const config = await pushBlob(name, '{}');
  const layer = await pushBlob(name, layerText);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: layerText.length }],
    ...extra,
  });
  const res = await fetch(`${v2}/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  return { res, digest: sha256(manifest), manifest };
}

t.test('skopeo pushes real images (layers shared, multi-arch index) and pulls them back unchanged', async (t) => {
  await pushImages(`${host}/docker-local`, images);
  const local = await pullCheck(`${host}/docker-local`, images);
  t.equal(local.failed, 0, local.output);
  t.equal(local.passed, 6);
  const inspect = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${host}/docker-local/library/busybox:1.1`)) as { Digest: string };
  t.equal(inspect.Digest, await layoutDigest(images, 'small:1.1'));
  const tags = JSON.parse(await skopeo('list-tags', '--tls-verify=false', `docker://${host}/docker-local/library/busybox`)) as { Tags: string[] };
  t.same(tags.Tags.sort(), ['1.0', '1.1', 'latest']);
});

t.test('the virtual repository serves its members, and the default repository answers unprefixed names', async (t) => {
  const viaVirtual = await pullCheck(`${host}/docker`, images);
  t.equal(viaVirtual.failed, 0, viaVirtual.output);
  const viaRoot = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/library/busybox:1.0`);
  t.equal(sha256(viaRoot), await layoutDigest(images, 'small:1.0'), 'what a registry-mirrors client asks for at the root');
});

t.test('resolveDockerTagsByTimestamp: the most recently pushed member tag wins', async (t) => {
  const older = await pushImage('docker-local/ts/app', 'stable', 'pushed first');
  await new Promise((r) => setTimeout(r, 10));
  const newer = await pushImage('docker-other/ts/app', 'stable', 'pushed later');
  const inOrder = await fetch(`${v2}/docker/ts/app/manifests/stable`, { method: 'HEAD' });
  t.equal(inOrder.headers.get('docker-content-digest'), older.digest, 'member order by default');
  const newest = await fetch(`${v2}/docker-newest/ts/app/manifests/stable`, { method: 'HEAD' });
  t.equal(newest.headers.get('docker-content-digest'), newer.digest);
  const tags = (await (await fetch(`${v2}/docker-newest/ts/app/tags/list`)).json()) as { tags: string[] };
  t.same(tags.tags, ['stable'], 'tag lists are the union of members');
});

t.test('a blob is stored once however many images and repositories hold it', async (t) => {
  const blobFiles = () =>
    readdirSync(join(shelf.dataDir, 'blobs', 'sha256')).flatMap((d) => readdirSync(join(shelf.dataDir, 'blobs', 'sha256', d))).length;
  const before = blobFiles();
  await skopeo('copy', '-q', '--all', '--dest-tls-verify=false', `oci:${images}/small:1.0`, `docker://${host}/docker-other/copy/busybox:1.0`);
  t.equal(blobFiles(), before, 'pushing the same image to another repository stores no new bytes');
  const res = await fetch(`${v2}/docker-other/copy/busybox/manifests/1.0`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  t.equal(res.status, 200);
});

t.test('manifests: digest header, content type, Accept negotiation, GET by digest', async (t) => {
  const { res, digest } = await pushImage('docker-local/neg/app', 'v1', 'layer-neg');
  t.equal(res.status, 201);
  t.equal(res.headers.get('docker-content-digest'), digest);
  t.equal(res.headers.get('location'), `${shelf.url}/v2/docker-local/neg/app/manifests/${digest}`);
  const get = await fetch(`${v2}/docker-local/neg/app/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  t.equal(get.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
  t.equal(get.headers.get('docker-content-digest'), digest);
  t.equal(sha256(Buffer.from(await get.arrayBuffer())), digest);
  const byDigest = await fetch(`${v2}/docker-local/neg/app/manifests/${digest}`);
  t.equal(byDigest.status, 200);
  const unaccepted = await fetch(`${v2}/docker-local/neg/app/manifests/v1`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  t.equal(unaccepted.status, 404);
  t.equal(await errorCode(unaccepted), 'MANIFEST_UNKNOWN');
  const unknown = await fetch(`${v2}/docker-local/neg/app/manifests/nope`);
  t.equal(await errorCode(unknown), 'MANIFEST_UNKNOWN');
});

t.test('a manifest list is answered with its linux/amd64 image to a client that cannot read lists', async (t) => {
  const { digest: amd64 } = await pushImage('docker-local/list/app', 'amd64', 'layer-amd64');
  const list = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd64, size: 1, platform: { os: 'linux', architecture: 'amd64' } }],
  });
  const put = await fetch(`${v2}/docker-local/list/app/manifests/multi`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.docker.distribution.manifest.list.v2+json' },
    body: list,
  });
  t.equal(put.status, 201);
  const res = await fetch(`${v2}/docker-local/list/app/manifests/multi`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  t.equal(res.status, 200);
  t.equal(res.headers.get('docker-content-digest'), amd64);
});

t.test('a reference that is neither a tag nor a digest names no manifest (404, as the OCI conformance suite expects)', async (t) => {
  const get = await fetch(`${v2}/docker-local/bad/app/manifests/.INVALID_MANIFEST_NAME`);
  t.equal(get.status, 404);
  t.equal(await errorCode(get), 'MANIFEST_UNKNOWN');
  t.equal((await fetch(`${v2}/docker-local/bad/app/manifests/.INVALID_MANIFEST_NAME`, { method: 'HEAD' })).status, 404);
});

t.test('bad manifests are refused with the spec error codes and nothing is tagged', async (t) => {
  const schema1 = await fetch(`${v2}/docker-local/bad/app/manifests/v1`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
    body: JSON.stringify({ schemaVersion: 1, name: 'bad/app', tag: 'v1', fsLayers: [] }),
  });
  t.equal(schema1.status, 400);
  t.equal(await errorCode(schema1), 'MANIFEST_INVALID');
  const notJson = await fetch(`${v2}/docker-local/bad/app/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{nope' });
  t.equal(await errorCode(notJson), 'MANIFEST_INVALID');
  const missingBlob = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('never pushed'), size: 12 },
    layers: [],
  });
  const unknownBlob = await fetch(`${v2}/docker-local/bad/app/manifests/v1`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: missingBlob,
  });
  t.equal(unknownBlob.status, 400);
  t.equal(await errorCode(unknownBlob), 'MANIFEST_BLOB_UNKNOWN');
  const wrongDigest = await fetch(`${v2}/docker-local/bad/app/manifests/${sha256('other')}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: missingBlob,
  });
  t.equal(await errorCode(wrongDigest), 'DIGEST_INVALID');
  const tags = await fetch(`${v2}/docker-local/bad/app/tags/list`);
  t.equal(tags.status, 404);
  t.equal(await errorCode(tags), 'NAME_UNKNOWN');
  const badName = await fetch(`${v2}/docker-local/Bad..Name/manifests/v1`);
  t.equal(await errorCode(badName), 'NAME_INVALID');
});

t.test('chunked upload: in-order chunks, status, out-of-order chunk refused, wrong digest stores nothing', async (t) => {
  const start = await fetch(`${v2}/docker-local/chunks/app/blobs/uploads/`, { method: 'POST' });
  t.equal(start.status, 202);
  const location = start.headers.get('location')!;
  t.match(location, /\/v2\/docker-local\/chunks\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
  t.equal(start.headers.get('range'), '0-0');
  const first = await fetch(location, { method: 'PATCH', headers: { 'content-range': '0-4', 'content-type': 'application/octet-stream' }, body: 'hello' });
  t.equal(first.status, 202);
  t.equal(first.headers.get('range'), '0-4');
  const outOfOrder = await fetch(location, { method: 'PATCH', headers: { 'content-range': '10-14' }, body: 'xxxxx' });
  t.equal(outOfOrder.status, 416);
  t.equal(outOfOrder.headers.get('range'), '0-4');
  const status = await fetch(location);
  t.equal(status.status, 204);
  t.equal(status.headers.get('range'), '0-4', 'the refused chunk left nothing behind');
  const second = await fetch(location, { method: 'PATCH', headers: { 'content-range': '5-10' }, body: ' world' });
  t.equal(second.headers.get('range'), '0-10');

  const wrong = await fetch(`${location}?digest=${sha256('something else')}`, { method: 'PUT' });
  t.equal(wrong.status, 400);
  t.equal(await errorCode(wrong), 'DIGEST_INVALID');
  t.equal((await fetch(`${v2}/docker-local/chunks/app/blobs/${sha256('hello world')}`, { method: 'HEAD' })).status, 404);
  t.equal((await fetch(location)).status, 404, 'the failed session is gone');
  t.same(readdirSync(join(shelf.dataDir, 'blobs', 'uploads')), [], 'no upload files remain');

  const again = await fetch(`${v2}/docker-local/chunks/app/blobs/uploads/`, { method: 'POST' });
  const loc = again.headers.get('location')!;
  await fetch(loc, { method: 'PATCH', body: 'hello ' });
  const done = await fetch(`${loc}?digest=${sha256('hello world')}`, { method: 'PUT', body: 'world' });
  t.equal(done.status, 201);
  t.equal(done.headers.get('docker-content-digest'), sha256('hello world'));
  const blob = await fetch(`${v2}/docker-local/chunks/app/blobs/${sha256('hello world')}`, { headers: { range: 'bytes=6-10' } });
  t.equal(blob.status, 206);
  t.equal(await blob.text(), 'world');

  const cancelled = await fetch(`${v2}/docker-local/chunks/app/blobs/uploads/`, { method: 'POST' });
  t.equal((await fetch(cancelled.headers.get('location')!, { method: 'DELETE' })).status, 204);
  t.equal(await errorCode(await fetch(cancelled.headers.get('location')!)), 'BLOB_UPLOAD_UNKNOWN');
  const foreign = await fetch(loc.replace('chunks/app', 'other/app'));
  t.equal(foreign.status, 404, 'a session belongs to the image it was started for');
});

t.test('a monolithic upload with the wrong digest is refused and stores nothing', async (t) => {
  const res = await fetch(`${v2}/docker-local/mono/app/blobs/uploads/?digest=${sha256('expected')}`, { method: 'POST', body: 'actual' });
  t.equal(res.status, 400);
  t.equal(await errorCode(res), 'DIGEST_INVALID');
  t.equal((await fetch(`${v2}/docker-local/mono/app/blobs/${sha256('actual')}`, { method: 'HEAD' })).status, 404);
  t.same(readdirSync(join(shelf.dataDir, 'blobs', 'tmp')), []);
});

t.test('cross-repository mount links the blob without an upload', async (t) => {
  const digest = await pushBlob('docker-local/mount/src', 'mounted layer');
  const res = await fetch(`${v2}/docker-other/mount/dst/blobs/uploads/?mount=${digest}&from=docker-local/mount/src`, { method: 'POST' });
  t.equal(res.status, 201);
  t.equal(res.headers.get('docker-content-digest'), digest);
  t.equal(await (await fetch(`${v2}/docker-other/mount/dst/blobs/${digest}`)).text(), 'mounted layer');
  const miss = await fetch(`${v2}/docker-other/mount/dst/blobs/uploads/?mount=${sha256('absent')}&from=docker-local/mount/src`, { method: 'POST' });
  t.equal(miss.status, 202, 'an unknown blob falls back to a normal upload session');
});

t.test('immutable tags: the same digest may be re-pushed, another digest is DENIED', async (t) => {
  const first = await pushImage('docker-release/rel/app', '1.0', 'release one');
  t.equal(first.res.status, 201);
  t.equal((await pushImage('docker-release/rel/app', '1.0', 'release one')).res.status, 201);
  const moved = await pushImage('docker-release/rel/app', '1.0', 'release two');
  t.equal(moved.res.status, 403);
  t.equal(await errorCode(moved.res), 'DENIED');
  const still = await fetch(`${v2}/docker-release/rel/app/manifests/1.0`, { method: 'HEAD' });
  t.equal(still.headers.get('docker-content-digest'), first.digest);
  const del = await fetch(`${v2}/docker-release/rel/app/manifests/1.0`, { method: 'DELETE' });
  t.equal(await errorCode(del), 'DENIED');
});

t.test('maxUniqueTags removes the least recently pushed tags', async (t) => {
  for (const tag of ['a', 'b', 'c']) {
    t.equal((await pushImage('docker-few/few/app', tag, `layer ${tag}`)).res.status, 201);
    await new Promise((r) => setTimeout(r, 5));
  }
  const tags = (await (await fetch(`${v2}/docker-few/few/app/tags/list`)).json()) as { tags: string[] };
  t.same(tags.tags, ['b', 'c']);
});

t.test('tag list and catalog paginate with n/last and a Link header', async (t) => {
  for (const tag of ['t1', 't2', 't3']) await pushImage('docker-local/page/app', tag, `page ${tag}`);
  const first = await fetch(`${v2}/docker-local/page/app/tags/list?n=2`);
  t.same(((await first.json()) as { tags: string[] }).tags, ['t1', 't2']);
  t.equal(first.headers.get('link'), '</v2/docker-local/page/app/tags/list?n=2&last=t2>; rel="next"');
  const second = await fetch(`${v2}/docker-local/page/app/tags/list?n=2&last=t2`);
  t.same(((await second.json()) as { tags: string[] }).tags, ['t3']);
  t.equal(second.headers.get('link'), null);
  const catalog = (await (await fetch(`${v2}/_catalog`, { headers: { authorization: TEST_AUTH } })).json()) as { repositories: string[] };
  t.ok(catalog.repositories.includes('docker-local/page/app'));
  t.ok(catalog.repositories.includes('docker/page/app'), 'virtual repositories list their members\' images');
  const paged = await fetch(`${v2}/_catalog?n=1`, { headers: { authorization: TEST_AUTH } });
  t.equal(((await paged.json()) as { repositories: string[] }).repositories.length, 1);
  t.match(paged.headers.get('link'), /^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
});

t.test('referrers: a pushed artifact with a subject is listed, filterable by artifactType', async (t) => {
  const { digest: subject, manifest } = await pushImage('docker-local/ref/app', 'v1', 'subject layer');
  const sbom = await pushImage('docker-local/ref/app', 'sbom', 'sbom layer', {
    artifactType: 'application/spdx+json',
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject, size: manifest.length },
  });
  t.equal(sbom.res.status, 201);
  t.equal(sbom.res.headers.get('oci-subject'), subject);
  const all = await fetch(`${v2}/docker-local/ref/app/referrers/${subject}`);
  t.equal(all.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
  const index = (await all.json()) as { manifests: { digest: string; artifactType: string }[] };
  t.same(index.manifests.map((m) => [m.digest, m.artifactType]), [[sbom.digest, 'application/spdx+json']]);
  const filtered = await fetch(`${v2}/docker-local/ref/app/referrers/${subject}?artifactType=application/other`);
  t.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  t.same(((await filtered.json()) as { manifests: unknown[] }).manifests, []);
  t.equal((await fetch(`${v2}/docker-local/ref/app/manifests/${sbom.digest}`, { method: 'DELETE' })).status, 202);
  t.same(((await (await fetch(`${v2}/docker-local/ref/app/referrers/${subject}`)).json()) as { manifests: unknown[] }).manifests, []);
});

t.test('delete by digest removes the manifest and its tags; skopeo delete works', async (t) => {
  const { digest } = await pushImage('docker-local/del/app', 'gone', 'delete me');
  t.equal((await fetch(`${v2}/docker-local/del/app/manifests/${digest}`, { method: 'DELETE' })).status, 202);
  t.equal((await fetch(`${v2}/docker-local/del/app/manifests/gone`)).status, 404);
  await skopeo('delete', '--tls-verify=false', `docker://${host}/docker-local/library/busybox:latest`);
  t.equal((await fetch(`${v2}/docker-local/library/busybox/manifests/latest`)).status, 404);
});

t.test('promotion links a tag into the release repository, retagged, without copying bytes', async (t) => {
  const before = readdirSync(join(shelf.dataDir, 'blobs', 'sha256')).length;
  const res = await fetch(`${shelf.url}/api/docker/docker-local/v2/promote`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ targetRepo: 'docker-release', dockerRepository: 'multi/arch', tag: '1.0', targetTag: '1.0-ga', copy: true }),
  });
  t.equal(res.status, 200, await res.clone().text());
  t.equal(readdirSync(join(shelf.dataDir, 'blobs', 'sha256')).length, before);
  const pulled = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/docker-release/multi/arch:1.0-ga`);
  t.equal(sha256(pulled), await layoutDigest(images, 'multi:1.0'));
  await skopeo('copy', '-q', '--all', '--src-tls-verify=false', `docker://${host}/docker-release/multi/arch:1.0-ga`, `oci:${shelf.dataDir}/promoted:1`);
  t.equal((await fetch(`${v2}/docker-local/multi/arch/manifests/1.0`, { method: 'HEAD' })).status, 200, 'copy keeps the source tag');

  const move = await fetch(`${shelf.url}/api/docker/docker-local/v2/promote`, {
    method: 'POST',
    body: JSON.stringify({ targetRepo: 'docker-release', dockerRepository: 'team/app/api', tag: '1.0' }),
  });
  t.equal(move.status, 200);
  t.equal((await fetch(`${v2}/docker-local/team/app/api/manifests/1.0`, { method: 'HEAD' })).status, 404, 'a move removes the source tag');
  t.equal((await fetch(`${v2}/docker-release/team/app/api/manifests/1.0`, { method: 'HEAD' })).status, 200);

  await pushImage('docker-local/rel/app', '1.0', 'a different release');
  const over = await fetch(`${shelf.url}/api/docker/docker-local/v2/promote`, {
    method: 'POST',
    body: JSON.stringify({ targetRepo: 'docker-release', dockerRepository: 'rel/app', tag: '1.0', copy: true }),
  });
  t.equal(over.status, 403, 'promotion over an immutable tag with another digest is refused');
});

t.test('pushes to a remote repository and odd names are refused with registry errors', async (t) => {
  const remote = await fetch(`${v2}/docker-cache/img/blobs/uploads/`, { method: 'POST' });
  t.equal(remote.status, 405);
  t.equal(await errorCode(remote), 'UNSUPPORTED');
  for (const path of ['docker-local/a/%2e%2e/b/tags/list', 'docker-local/a%2Fb/tags/list', 'docker-local/A/tags/list']) {
    // node:http sends the path as written (fetch would resolve the dot segments first).
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(shelf.url);
      get({ hostname, port, path: `/v2/${path}` }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
    t.equal(status, 400, path);
    t.equal((JSON.parse(body) as { errors: { code: string }[] }).errors[0]!.code, 'NAME_INVALID', path);
  }
  const challenge = await fetch(`${v2}/`);
  t.equal(challenge.status, 401, 'the base asks for credentials, so clients learn where the token service is');
  const base = await fetch(`${v2}/`, { headers: { authorization: TEST_AUTH } });
  t.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
  t.same(await base.json(), {});
});
