import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startShelfProcess } from '../../helpers/shelf.js';

// GC runs (three times, from the CLI beside the service) while 50 clients upload and download through a
// cluster of two workers; some uploads carry exactly the bytes of garbage GC is sweeping at that moment.
// Every upload that got a 201 is complete afterwards, and no request fails because of GC.
const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const shelf = await startShelfProcess(
  { repositories: [{ key: 'files', format: 'generic', type: 'local' }], storage: { gc: { schedule: false, graceSeconds: 60 } } },
  2,
);
t.teardown(() => shelf.stop());
const blobPath = (hex: string) => join(shelf.dataDir, 'data', 'blobs', 'sha256', hex.slice(0, 2), hex);
const put = (path: string, body: Buffer) => fetch(`${shelf.url}/files/${path}`, { method: 'PUT', body });

t.test('uploads and downloads in flight are untouched by GC; garbage goes', async (t) => {
  // Garbage older than the grace period: deleted files whose blobs were written two hours ago.
  const garbage: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const body = randomBytes(4096);
    t.equal((await put(`garbage/${i}`, body)).status, 201);
    t.equal((await fetch(`${shelf.url}/files/garbage/${i}`, { method: 'DELETE' })).status, 204);
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(blobPath(sha256(body)), old, old);
    garbage.push(body);
  }
  const seeded: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    seeded.push(randomBytes(32 * 1024));
    t.equal((await put(`seed/${i}`, seeded[i]!)).status, 201);
  }

  const failures: string[] = [];
  const uploaded = new Map<string, string>();
  let stop = false;
  const client = async (id: number) => {
    for (let round = 0; !stop || round < 3; round++) {
      // Every third upload re-deploys the bytes of a garbage blob (of the first hundred) that GC may be sweeping right now.
      const body = round % 3 === 0 ? garbage[(id * 7 + round) % 100]! : randomBytes(16 * 1024);
      const path = `load/${id}/${round}`;
      const res = await put(path, body).catch((err: Error) => err);
      if (res instanceof Error || res.status !== 201) failures.push(`PUT ${path}: ${res instanceof Error ? res.message : res.status}`);
      else uploaded.set(path, sha256(body));
      const seed = (id + round) % seeded.length;
      const got = await fetch(`${shelf.url}/files/seed/${seed}`).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(String(r.status)))));
      if (sha256(Buffer.from(got)) !== sha256(seeded[seed]!)) failures.push(`GET seed/${seed}: wrong content`);
    }
  };
  const clients = Array.from({ length: 50 }, (_, id) => client(id).catch((err: Error) => failures.push(err.message)));
  const config = join(shelf.dataDir, 'shelf.yaml');
  const reports: string[] = [];
  for (let i = 0; i < 3; i++) reports.push((await run(process.execPath, ['dist/cli/main.js', 'gc', '--config', config])).stdout);
  stop = true;
  await Promise.all(clients);

  t.same(failures, [], 'no request failed');
  t.ok(uploaded.size >= 150, `${uploaded.size} uploads acknowledged during GC`);
  const lost: string[] = [];
  for (const [path, digest] of uploaded) {
    const res = await fetch(`${shelf.url}/files/${path}`);
    if (res.status !== 200 || sha256(Buffer.from(await res.arrayBuffer())) !== digest) lost.push(`${path} lost or damaged after GC`);
  }
  t.same(lost, [], 'every acknowledged upload is complete');
  const freed = reports.reduce((sum, report) => sum + Number(/freed (\d+) blobs/.exec(report)?.[1] ?? 0), 0);
  t.ok(freed >= 100, `GC freed ${freed} blobs meanwhile`);
  const left = garbage.slice(100).filter((body) => existsSync(blobPath(sha256(body))));
  t.same(left.length, 0, 'garbage nobody uploaded again is gone');
});
