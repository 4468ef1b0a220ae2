import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ociImages, pullCheck, pushImages } from '../../helpers/docker-harness.js';
import { FaultyUpstream } from '../../helpers/faulty-upstream.js';
import { addClusterAdmin, serveSlowly, startHaCluster } from '../../helpers/ha-cluster.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { postgresFor } from '../../helpers/postgres.js';
import { s3For } from '../../helpers/s3.js';

// Two nodes with nothing shared on disk but their key files: the index in PostgreSQL, the blobs in an S3
// bucket (Ceph's RADOS gateway), each node's data directory its own (temp files, uploads in progress, logs).
const postgres = await postgresFor(t);
const s3 = postgres && (await s3For(t));
if (postgres && s3) {
  const databaseUrl = await postgres.createDatabase();
  const admin = await addClusterAdmin(databaseUrl);

  const BIG = randomBytes(6 * 1024 * 1024);
  const upstream = new FaultyUpstream();
  serveSlowly(upstream, '/big.bin', BIG, 80);
  const upstreamUrl = await upstream.start();
  t.teardown(() => upstream.stop());

  const cluster = await startHaCluster(
    t,
    {
      repositories: [
        { key: 'cache', format: 'generic', type: 'remote', url: upstreamUrl },
        { key: 'files', format: 'generic', type: 'local' },
        { key: 'npm-local', format: 'npm', type: 'local' },
        { key: 'docker-local', format: 'docker', type: 'local' },
      ],
      docker: { defaultRepository: 'docker-local' },
      storage: { blobs: s3.blobsConfig() },
      security: { permissions: [{ name: 'read-all', repositories: ['ANY'], anonymous: ['read'] }] },
    },
    { nodes: 2, databaseUrl, ownDataDirs: true },
  );
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const download = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, sha256: sha256(Buffer.from(await res.arrayBuffer())) };
  };

  t.test('both nodes are ready on the shared index and the bucket', async (t) => {
    for (const node of cluster.nodes) {
      const ready = await fetch(`${node.url}/-/readyz`);
      t.equal(ready.status, 200);
      t.match(await ready.json(), { checks: { index: { type: 'postgres', ok: true }, storage: { type: 's3', ok: true } } });
    }
  });

  t.test('twenty concurrent cold requests over both nodes make one upstream request; the other node serves from the bucket', async (t) => {
    const downloads = await Promise.all(Array.from({ length: 20 }, (_, i) => download(`${cluster.nodes[i % 2]!.url}/cache/big.bin`)));
    t.same(new Set(downloads.map((d) => d.status)), new Set([200]));
    t.ok(downloads.every((d) => d.sha256 === sha256(BIG)), 'every body is whole and right');
    t.equal(upstream.count('/big.bin'), 1, 'one upstream request');
    for (const node of cluster.nodes) {
      t.notOk(existsSync(join(node.dataDir, 'data', 'blobs', 'sha256', sha256(BIG).slice(0, 2))), 'no blob file on either disk');
    }
  });

  t.test('a deploy on one node is served by the other at once, and a publish there installs here', async (t) => {
    const body = randomBytes(200_000);
    t.equal((await fetch(`${a.url}/files/shared.bin`, { method: 'PUT', body, headers: { authorization: admin } })).status, 201);
    t.same(await download(`${b.url}/files/shared.bin`), { status: 200, sha256: sha256(body) });

    await publishPackage(t, `${b.url}/npm-local/`, 's3-ha-demo', '1.0.0');
    const project = new ClientProject(`${a.url}/npm-local/`);
    t.teardown(() => project.remove());
    const installed = await project.npm('install', 's3-ha-demo@1.0.0');
    t.equal(installed.code, 0, installed.stderr);
    t.equal(project.file('node_modules/s3-ha-demo/index.js'), "module.exports = '1.0.0';\n");
  });

  t.test('skopeo pushes to one node and pulls every image whole from the other (Docker tokens signed by a shared key)', async (t) => {
    const images = ociImages();
    await pushImages(a.url.replace('http://', ''), images, 'shelf:shelf');
    const pulled = await pullCheck(b.url.replace('http://', ''), images, 'shelf:shelf');
    t.equal(pulled.failed, 0, pulled.output);
    t.ok(pulled.passed >= 6, pulled.output);
    // A bearer token from node A's token service opens node B.
    const token = (await (
      await fetch(`${a.url}/v2/token?service=shelf&scope=repository:docker-local/library/busybox:pull`, { headers: { authorization: admin } })
    ).json()) as { token: string };
    const manifest = await fetch(`${b.url}/v2/docker-local/library/busybox/manifests/1.0`, {
      headers: { authorization: `Bearer ${token.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    t.equal(manifest.status, 200);
  });
}
