import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FaultyUpstream } from '../../helpers/faulty-upstream.js';
import { startShelf } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

// A full disk is a 507 with a message, in each format's own error body, leaving nothing partial; below
// storage.minFreeBytes nothing new is stored while stored content is served, and /-/readyz says so; GC
// gives the space back. The data directory is a small tmpfs (needs root).

const disk = join(tmpdir(), `shelf-full-disk-${process.pid}`);
mkdirSync(disk, { recursive: true });
let mountError: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk], { stdio: 'pipe' });
} catch (err) {
  mountError = (err as Error).message;
}
if (mountError) t.skip(`cannot mount a tmpfs here: ${mountError}`);
else await diskFullTests();

async function diskFullTests() {
  t.teardown(() => {
    execFileSync('umount', ['-l', disk]);
    rmSync(disk, { recursive: true, force: true });
  });

  const upstream = new FaultyUpstream();
  for (const name of ['cached.txt', 'cold.txt']) upstream.on(`/${name}`, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name}\n`));
  const upstreamUrl = await upstream.start();
  t.teardown(() => upstream.stop());
  const shelf = await startShelf({
    storage: { dataDir: join(disk, 'data'), minFreeBytes: 3 * 1024 * 1024, gc: { schedule: false, graceSeconds: 0 } },
    repositories: [
      { key: 'files', format: 'generic', type: 'local' },
      { key: 'cache', format: 'generic', type: 'remote', url: upstreamUrl },
      { key: 'npm-local', format: 'npm', type: 'local' },
      { key: 'docker-local', format: 'docker', type: 'local' },
    ],
  });
  t.teardown(() => shelf.stop());
  await new Identity(shelf.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
  const tempFiles = () => readdirSync(join(disk, 'data', 'blobs', 'tmp'));
  const put = (path: string, body: Buffer | string) => fetch(`${shelf.url}/files/${path}`, { method: 'PUT', body });

  t.test('a write that meets a full disk half-way is a 507 in each format and leaves nothing behind', async (t) => {
    t.equal((await fetch(`${shelf.url}/cache/cached.txt`)).status, 200, 'cached while there is room');
    // More than the whole disk: the guard lets it start (enough is free), the disk stops it.
    const generic = await put('big.bin', randomBytes(9 * 1024 * 1024));
    t.equal(generic.status, 507);
    t.match(await generic.text(), /out of disk space/);
    t.same(tempFiles(), [], 'no partial file');
    t.equal((await fetch(`${shelf.url}/files/big.bin`)).status, 404);

    const tarball = randomBytes(9 * 1024 * 1024);
    const npm = await fetch(`${shelf.url}/npm-local/too-big`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'too-big',
        versions: { '1.0.0': { name: 'too-big', version: '1.0.0', dist: { integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}` } } },
        _attachments: { 'too-big-1.0.0.tgz': { data: tarball.toString('base64'), length: tarball.length } },
      }),
    });
    t.equal(npm.status, 507);
    t.match(((await npm.json()) as { error: string }).error, /out of disk space/, "in npm's error body, which npm prints");

    const blob = randomBytes(9 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const docker = await fetch(`${shelf.url}/v2/docker-local/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob });
    t.equal(docker.status, 507);
    t.match(((await docker.json()) as { errors: { message: string }[] }).errors[0]!.message, /out of disk space/, "in the registry's error body");
    t.same(tempFiles(), []);
    t.equal((await fetch(`${shelf.url}/-/readyz`)).status, 200, 'nothing was kept, so there is room still');
  });

  t.test('below storage.minFreeBytes nothing new is stored, and what is stored is still served', async (t) => {
    t.equal((await put('fill.bin', randomBytes(5 * 1024 * 1024))).status, 201);
    const low = await fetch(`${shelf.url}/-/readyz`);
    t.equal(low.status, 503, 'under storage.minFreeBytes: not ready');
    t.match(((await low.json()) as { reason: string }).reason, /bytes free on the data disk/);

    const refused = await put('small.bin', 'tiny');
    t.equal(refused.status, 507);
    t.match(await refused.text(), /less than storage\.minFreeBytes \(3\.0 MiB\)/);
    const cold = await fetch(`${shelf.url}/cache/cold.txt`);
    t.equal(cold.status, 507, 'an uncached file is not downloaded');
    t.equal(upstream.count('/cold.txt'), 0, 'nor even asked for');
    const docker = await fetch(`${shelf.url}/v2/docker-local/app/blobs/uploads/`, { method: 'POST' });
    t.equal(docker.status, 507, 'no upload starts');
    t.equal(await (await fetch(`${shelf.url}/cache/cached.txt`)).text(), 'cached.txt\n', 'cached content is served');
    const hosted = await fetch(`${shelf.url}/files/fill.bin`);
    t.equal((await hosted.arrayBuffer()).byteLength, 5 * 1024 * 1024, 'hosted content is served');
    const metrics = await (await fetch(`${shelf.url}/-/metrics`)).text();
    t.match(metrics, /^shelf_storage_low 1$/m);
    t.same(tempFiles(), []);
  });

  t.test('deleting, then collecting garbage, makes room: writes work again', async (t) => {
    t.equal((await fetch(`${shelf.url}/files/fill.bin`, { method: 'DELETE' })).status, 204);
    t.equal((await put('small.bin', 'tiny')).status, 507, 'a deleted file holds its space until GC');
    const gc = await fetch(`${shelf.url}/api/system/gc`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('root:root-password').toString('base64')}` },
    });
    t.match(await gc.json(), { blobs: { count: 1, bytes: 5 * 1024 * 1024 } });
    const fits = await put('small.bin', 'fits');
    t.equal(fits.status, 201, await fits.text());
    t.equal((await fetch(`${shelf.url}/cache/cold.txt`)).status, 200);
    t.equal((await fetch(`${shelf.url}/-/readyz`)).status, 200);
  });
}
