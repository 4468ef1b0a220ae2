import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import t from 'tap';
import { layoutDigest, ociImages, pullCheck, signOnRegistry, skopeo, startRegistryWithImages } from '../../helpers/docker-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const images = ociImages();
const upstream = await startRegistryWithImages(t, images);

/**
 * A front for the upstream registry that announces a Docker Hub-style rate limit and, once `limited`, answers
 * 429 like Docker Hub does when the pull budget is spent.
 */
let limited = false;
const front: Server = createServer((req, res) => {
  if (limited) {
    res.writeHead(429, { 'retry-after': '120', 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' });
    res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit"}]}');
    return;
  }
  const proxied = request({ host: '127.0.0.1', port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
    res.writeHead(up.statusCode!, { ...up.headers, 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '42;w=21600' });
    up.pipe(res);
  });
  req.pipe(proxied);
});
await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => front.close(() => resolve())));
const frontUrl = `http://127.0.0.1:${(front.address() as { port: number }).port}`;

const shelf = await startShelf({
  repositories: [
    // as-cached: with the upstream stopped the tag list still names `latest`, never pulled (pull-check.sh expects all three).
    { key: 'hub', format: 'docker', type: 'remote', url: upstream.url, tagTtlSeconds: 1, assumedOfflineSeconds: 0, offlineMetadata: 'as-cached' },
    { key: 'limited', format: 'docker', type: 'remote', url: frontUrl },
    { key: 'docker-local', format: 'docker', type: 'local' },
    { key: 'docker', format: 'docker', type: 'virtual', members: ['docker-local', 'hub'], defaultDeployRepo: 'docker-local' },
  ],
});
t.teardown(() => shelf.stop());
const host = shelf.url.replace('http://', '');
const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

t.test('cold pull through the remote, then warm pull with the upstream stopped', async (t) => {
  const cold = await pullCheck(`${host}/hub`, images);
  t.equal(cold.failed, 0, cold.output);
  const bigLayerGets = upstream.requests('/v2/big/blob/blobs/').filter((r) => r.startsWith('GET'));
  t.equal(bigLayerGets.length, 2, 'the big image\'s config and layer were each fetched once');
  await upstream.stop();
  try {
    const warm = await pullCheck(`${host}/hub`, images);
    t.equal(warm.failed, 0, warm.output);
    const stale = await fetch(`${shelf.url}/v2/hub/library/busybox/manifests/1.0`, { method: 'HEAD' });
    t.equal(stale.status, 200);
    const uncached = await fetch(`${shelf.url}/v2/hub/library/busybox/manifests/never-pulled`);
    t.ok(uncached.status >= 500 || uncached.status === 404, `uncached answers an error (${uncached.status})`);
    const viaVirtual = await pullCheck(`${host}/docker`, images);
    t.equal(viaVirtual.failed, 0, viaVirtual.output);
  } finally {
    await upstream.start();
  }
});

t.test('a tag moved upstream is seen after tagTtl; an unchanged tag is revalidated with a HEAD only', async (t) => {
  const name = 'library/busybox';
  await fetch(`${shelf.url}/v2/hub/${name}/manifests/latest`);
  await new Promise((r) => setTimeout(r, 1100));
  const before = upstream.requests(`/v2/${name}/manifests/latest`).length;
  const unchanged = await fetch(`${shelf.url}/v2/hub/${name}/manifests/latest`);
  t.equal(unchanged.headers.get('docker-content-digest'), await layoutDigest(images, 'small:1.1'));
  t.same(
    upstream.requests(`/v2/${name}/manifests/latest`).slice(before).map((r) => r.split(' ')[0]),
    ['HEAD'],
    'an unchanged tag costs one HEAD and no GET',
  );

  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/small:1.0`, `docker://${upstream.address}/${name}:latest`);
  const cached = await fetch(`${shelf.url}/v2/hub/${name}/manifests/latest`);
  t.equal(cached.headers.get('docker-content-digest'), await layoutDigest(images, 'small:1.1'), 'still cached within tagTtl');
  await new Promise((r) => setTimeout(r, 1100));
  const moved = await fetch(`${shelf.url}/v2/hub/${name}/manifests/latest`);
  t.equal(moved.headers.get('docker-content-digest'), await layoutDigest(images, 'small:1.0'));
  const tags = JSON.parse(await skopeo('list-tags', '--tls-verify=false', `docker://${host}/hub/${name}`)) as { Tags: string[] };
  t.same(tags.Tags.sort(), ['1.0', '1.1', 'latest']);
});

t.test('20 concurrent cold pulls of one large layer make one upstream request', async (t) => {
  const manifest = JSON.parse(await skopeo('inspect', '--raw', `oci:${images}/big:1.0`)) as { layers: { digest: string }[] };
  const layer = manifest.layers[0]!.digest;
  // Pushed once more under another name, so this layer is cold for Shelf.
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${images}/big:1.0`, `docker://${upstream.address}/big/again:1.0`);
  const bodies = await Promise.all(
    Array.from({ length: 20 }, async () => Buffer.from(await (await fetch(`${shelf.url}/v2/hub/big/again/blobs/${layer}`)).arrayBuffer())),
  );
  t.ok(bodies.every((b) => sha256(b) === layer), 'every client got the verified layer');
  t.equal(upstream.requests(`/v2/big/again/blobs/${layer}`).filter((r) => r.startsWith('GET')).length, 1);

  // Its sha1, md5 and sha512 are computed once it is stored (a pull waits for none of them); then it is found by them.
  const sha1 = createHash('sha1').update(bodies[0]!).digest('hex');
  let found: { path: string }[] = [];
  for (let i = 0; i < 100 && found.length === 0; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    found = ((await (await fetch(`${shelf.url}/api/search/checksum?sha1=${sha1}`)).json()) as { results: { path: string }[] }).results;
  }
  t.ok(found.some((r) => r.path.includes('big/again')), 'found by its sha1');
  const info = (await (await fetch(`${shelf.url}/api/storage/hub${found.find((r) => r.path.includes('big/again'))!.path}`)).json()) as { checksums: Record<string, string> };
  t.equal(info.checksums.md5, createHash('md5').update(bodies[0]!).digest('hex'), 'and its md5 is recorded');
});

t.test('rate limit: the budget is exposed; once spent, cached tags are served and uncached ones refused', async (t) => {
  const warm = await fetch(`${shelf.url}/v2/limited/library/busybox/manifests/1.0`);
  t.equal(warm.status, 200);
  const budget = (await (await fetch(`${shelf.url}/api/docker/limited/ratelimit`)).json()) as { limit: number; remaining: number };
  t.equal(budget.limit, 100);
  t.equal(budget.remaining, 42);
  t.match(await (await fetch(`${shelf.url}/-/metrics`)).text(), /shelf_upstream_ratelimit_remaining\{repo="limited"\} 42/);
  limited = true;
  try {
    const refused = await fetch(`${shelf.url}/v2/limited/library/busybox/manifests/1.1`);
    t.equal(refused.status, 429);
    t.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code, 'TOOMANYREQUESTS');
    t.ok(Number(refused.headers.get('retry-after')) > 0);
    const spent = (await (await fetch(`${shelf.url}/api/docker/limited/ratelimit`)).json()) as { blockedUntil?: number };
    t.ok(spent.blockedUntil && spent.blockedUntil > Date.now());
    const cached = await fetch(`${shelf.url}/v2/limited/library/busybox/manifests/1.0`);
    t.equal(cached.status, 200, 'a cached tag is still served');
  } finally {
    limited = false;
  }
});

t.test('a remote repository refuses pushes', async (t) => {
  const res = await fetch(`${shelf.url}/v2/hub/library/busybox/blobs/uploads/`, { method: 'POST' });
  t.equal(res.status, 405);
});

t.test("referrers (signatures, SBOMs) the upstream has are visible through the cache", async (t) => {
  // An artifact that refers to busybox:1.0, and the OCI 1.1 fallback tag that lists it (distribution 2.8 has no referrers API).
  const { subject: subjectDigest, digest: signatureDigest } = await signOnRegistry(upstream.url, 'library/busybox', '1.0');

  for (const repo of ['hub', 'docker']) {
    const referrers = await fetch(`${shelf.url}/v2/${repo}/library/busybox/referrers/${subjectDigest}`);
    t.equal(referrers.status, 200);
    const listed = ((await referrers.json()) as { manifests: { digest: string; artifactType?: string }[] }).manifests;
    t.same(listed.map((d) => [d.digest, d.artifactType]), [[signatureDigest, 'application/vnd.example.signature']], `${repo}: the upstream's referrer is listed`);
  }
  const filtered = await fetch(`${shelf.url}/v2/hub/library/busybox/referrers/${subjectDigest}?artifactType=application/vnd.example.sbom`);
  t.same(((await filtered.json()) as { manifests: unknown[] }).manifests, [], 'the artifactType filter applies');
  const signature = await fetch(`${shelf.url}/v2/hub/library/busybox/manifests/${signatureDigest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  t.equal(signature.status, 200, 'and the referrer itself is pulled through the cache');
});
