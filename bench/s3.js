// The S3 blob store: hosted-file downloads (1 KiB, 1 MiB, 16 MiB) from one Shelf keeping its blobs on disk,
// one keeping them in a bucket of Ceph's RADOS gateway, and the gateway itself serving the same objects
// (public-read, so wrk needs no signature): the ceiling Shelf on S3 can reach, and what verifying every byte
// on the way out costs. Memory caching is off on both Shelfs so that every request reads the store.
// A benchmark, not a test. usage: npm run bench:s3 [-- --seconds 10 --workers 2 --repeats 3 --json FILE]
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const options = benchOptions();
const { seconds, repeats } = options;
const workers = options.workers || 2;
const gateway = new URL('../test/harness/s3-radosgw.sh', import.meta.url).pathname;

const files = [
  { name: '1k.bin', bytes: 1024, connections: 32 },
  { name: '1m.bin', bytes: 1024 * 1024, connections: 16 },
  { name: '16m.bin', bytes: 16 * 1024 * 1024, connections: 4 },
].map((file) => ({ ...file, body: randomBytes(file.bytes) }));

const root = mkdtempSync(join(tmpdir(), 'shelf-bench-s3-'));
const rgwDir = join(root, 'rgw');
const endpoint = execFileSync(gateway, ['start', rgwDir, String(await freePort()), String(await freePort())], { encoding: 'utf8' }).trim();
process.env.SHELF_BENCH_S3_SECRET = 'shelf-secret';
// Shelf pins the SDK line that supports Node 20 (see src/storage/s3-blob-place.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const blobs = `blobs: { type: s3, bucket: shelf-bench, prefix: shelf/, endpoint: "${endpoint}", forcePathStyle: true, accessKeyId: shelf, secretAccessKey: { env: SHELF_BENCH_S3_SECRET } }`;
const repository = '{ key: files, format: generic, type: local }';
const servers = [];
const start = async (name, storage) => {
  const port = await freePort();
  servers.push(await startShelfServer(root, { name, port, workers, repository, anonymous: ['read', 'write'], storage: `memoryCacheBytes: 0${storage && `, ${storage}`}`, dataDir: join(root, `${name}-data`) }));
  return port;
};

try {
  const diskPort = await start('disk', '');
  const s3Port = await start('s3', blobs);
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'shelf', secretAccessKey: 'shelf-secret' } });
  for (const file of files) {
    for (const port of [diskPort, s3Port]) {
      const res = await fetch(`http://127.0.0.1:${port}/files/${file.name}`, { method: 'PUT', body: file.body });
      if (res.status !== 201) throw new Error(`deploy answered ${res.status}`);
    }
    // The gateway's own copy of what Shelf stored, readable without a signature.
    await client.send(new PutObjectCommand({ Bucket: 'shelf-bench', Key: `public/${file.name}`, Body: file.body, ACL: 'public-read' }));
    const sha256 = createHash('sha256').update(file.body).digest('hex');
    const stored = await fetch(`${endpoint}/shelf-bench/public/${file.name}`);
    if (stored.status !== 200 || createHash('sha256').update(Buffer.from(await stored.arrayBuffer())).digest('hex') !== sha256) {
      throw new Error('the gateway does not serve the public copy');
    }
  }
  client.destroy();

  const report = new Report('S3 blob store: downloads from disk, from S3 through Shelf, and from the S3 gateway itself', {
    facts: machineFacts({ radosgw: ['radosgw', '--version'] }),
    settings: { seconds, repeats, workers, memoryCacheBytes: 0, gateway: "Ceph RADOS gateway, one OSD in memory (memstore), on this machine" },
  });
  for (const file of files) {
    report.load(file.name, [
      { name: 'shelf, disk', url: `http://127.0.0.1:${diskPort}/files/${file.name}` },
      { name: 'shelf, s3', url: `http://127.0.0.1:${s3Port}/files/${file.name}` },
      { name: 'radosgw', url: `${endpoint}/shelf-bench/public/${file.name}` },
    ], { connections: file.connections, seconds, repeats });
  }
  report.save(options.json);
} finally {
  for (const server of servers) await stopShelfServer(server);
  execFileSync(gateway, ['stop', rgwDir]);
  rmSync(root, { recursive: true, force: true });
}
