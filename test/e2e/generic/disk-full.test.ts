import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startShelf } from '../../helpers/shelf.js';

// A full disk is a 507 with a message, in each format's own error body, leaving nothing partial; and
// /-/readyz says not ready when free space runs low. The data directory is a small tmpfs (needs root).

const disk = join(tmpdir(), `shelf-full-disk-${process.pid}`);
mkdirSync(disk, { recursive: true });
let mountError: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', disk], { stdio: 'pipe' });
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

  const shelf = await startShelf({
    storage: { dataDir: join(disk, 'data'), minFreeBytes: 3 * 1024 * 1024 },
    repositories: [
      { key: 'files', format: 'generic', type: 'local' },
      { key: 'npm-local', format: 'npm', type: 'local' },
      { key: 'docker-local', format: 'docker', type: 'local' },
    ],
  });
  t.teardown(() => shelf.stop());
  const tempFiles = () => readdirSync(join(disk, 'data', 'blobs', 'tmp'));

  t.test('readiness reports the shrinking disk', async (t) => {
    const ready = await fetch(`${shelf.url}/-/readyz`);
    t.equal(ready.status, 200);
    t.equal((await fetch(`${shelf.url}/files/fill.bin`, { method: 'PUT', body: randomBytes(3 * 1024 * 1024) })).status, 201);
    const low = await fetch(`${shelf.url}/-/readyz`);
    t.equal(low.status, 503, 'under storage.minFreeBytes: not ready');
    t.match(((await low.json()) as { reason: string }).reason, /bytes free on the data disk/);
  });

  t.test('a deploy that does not fit is a 507 and leaves nothing behind', async (t) => {
    const generic = await fetch(`${shelf.url}/files/big.bin`, { method: 'PUT', body: randomBytes(4 * 1024 * 1024) });
    t.equal(generic.status, 507);
    t.match(await generic.text(), /out of disk space/);
    t.same(tempFiles(), [], 'no partial file');
    t.equal((await fetch(`${shelf.url}/files/big.bin`)).status, 404);

    const tarball = randomBytes(4 * 1024 * 1024);
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

    const blob = randomBytes(4 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const docker = await fetch(`${shelf.url}/v2/docker-local/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob });
    t.equal(docker.status, 507);
    t.match(((await docker.json()) as { errors: { message: string }[] }).errors[0]!.message, /out of disk space/, "in the registry's error body");
    t.same(tempFiles(), []);
  });

  t.test('once space is freed, deploys work again', async (t) => {
    t.equal((await fetch(`${shelf.url}/files/fill.bin`, { method: 'DELETE' })).status, 204);
    rmSync(join(disk, 'data', 'blobs', 'sha256'), { recursive: true, force: true });
    mkdirSync(join(disk, 'data', 'blobs', 'sha256'));
    t.equal((await fetch(`${shelf.url}/files/small.bin`, { method: 'PUT', body: 'fits' })).status, 201);
  });
}
