import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { NginxUpstream } from '../../helpers/nginx-upstream.js';
import { runTool } from '../../helpers/run-tool.js';
import { startShelf } from '../../helpers/shelf.js';

// Content is verified on the way out: damaged bytes are never served, a lost blob is a 500 (never a 404 a
// client would trust), and a remote repository fetches what it lost or found damaged again.

const upstream = new NginxUpstream();
await upstream.start();
t.teardown(() => upstream.dispose());

const shelf = await startShelf({
  // Damage is done to the files on disk: a copy verified earlier and kept in memory would (rightly) be served instead.
  storage: { memoryCacheBytes: 0 },
  repositories: [
    { key: 'files', format: 'generic', type: 'local', allowRedeploy: true },
    { key: 'cache', format: 'generic', type: 'remote', url: upstream.url, metadataTtlSeconds: 3600 },
  ],
});
t.teardown(() => shelf.stop());

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const blobPath = (digest: string) => join(shelf.dataDir, 'blobs', 'sha256', digest.slice(0, 2), digest);
const flipByte = (digest: string, at: number) => {
  const path = blobPath(digest);
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
};
const quarantined = (digest: string) => readdirSync(join(shelf.dataDir, 'blobs', 'quarantine')).some((name) => name.startsWith(digest));
const curl = (...args: string[]) => runTool('curl', ['-sS', ...args], { PATH: process.env.PATH });

t.test('a damaged small hosted file is refused and quarantined; once lost it is a 500, also for HEAD', async (t) => {
  const content = randomBytes(4096);
  t.equal((await fetch(`${shelf.url}/files/small.bin`, { method: 'PUT', body: content })).status, 201);
  flipByte(sha256(content), 100);
  const damaged = await fetch(`${shelf.url}/files/small.bin`);
  t.equal(damaged.status, 500, 'not 200 with the original checksum headers');
  t.match(await damaged.text(), /damaged on disk/);
  t.ok(quarantined(sha256(content)), 'the blob was moved to quarantine');
  const lost = await fetch(`${shelf.url}/files/small.bin`);
  t.equal(lost.status, 500, 'an indexed file whose blob is gone is a server fault, not 404');
  t.match(await lost.text(), /missing from the blob store/);
  t.equal((await fetch(`${shelf.url}/files/small.bin`, { method: 'HEAD' })).status, 500, 'HEAD agrees with GET');
  const fetched = await curl('-f', '-o', '/dev/null', `${shelf.url}/files/small.bin`);
  t.not(fetched.code, 0, 'curl -f fails');
  t.equal((await fetch(`${shelf.url}/files/small.bin`, { method: 'PUT', body: content })).status, 201, 'a redeploy of the same content repairs it');
  t.same(Buffer.from(await (await fetch(`${shelf.url}/files/small.bin`)).arrayBuffer()), content);
});

t.test('a damaged large file breaks the transfer off instead of completing', async (t) => {
  const content = randomBytes(3 * 1024 * 1024);
  t.equal((await fetch(`${shelf.url}/files/large.bin`, { method: 'PUT', body: content })).status, 201);
  flipByte(sha256(content), 2 * 1024 * 1024);
  const out = join(shelf.dataDir, '..', `shelf-integrity-${process.pid}.bin`);
  t.teardown(() => rmSync(out, { force: true }));
  const fetched = await curl('-o', out, `${shelf.url}/files/large.bin`);
  t.not(fetched.code, 0, `curl reports a failed transfer: ${fetched.stderr.trim()}`);
  t.ok(!existsSync(out) || readFileSync(out).length < content.length, 'the client never received a whole damaged file');
  t.ok(quarantined(sha256(content)));
  t.equal((await fetch(`${shelf.url}/files/large.bin`)).status, 500);
});

t.test('a remote repository fetches damaged or lost cached content again', async (t) => {
  const small = randomBytes(2048);
  const large = randomBytes(2 * 1024 * 1024);
  mkdirSync(join(upstream.root, 'pkg'), { recursive: true });
  writeFileSync(join(upstream.root, 'pkg', 'small.bin'), small);
  writeFileSync(join(upstream.root, 'pkg', 'large.bin'), large);
  for (const [name, bytes] of [['small.bin', small], ['large.bin', large]] as const) {
    const first = await fetch(`${shelf.url}/cache/pkg/${name}`);
    t.same(Buffer.from(await first.arrayBuffer()), bytes);
  }

  flipByte(sha256(small), 10);
  const repaired = await fetch(`${shelf.url}/cache/pkg/small.bin`);
  t.equal(repaired.status, 200, 'damaged small content is fetched again before anything is sent');
  t.same(Buffer.from(await repaired.arrayBuffer()), small);
  t.equal(upstream.requests('/pkg/small.bin').length, 2, 'from the upstream');

  rmSync(blobPath(sha256(large)));
  t.equal((await fetch(`${shelf.url}/cache/pkg/large.bin`, { method: 'HEAD' })).status, 200, 'a lost blob is fetched again');
  const refetched = await fetch(`${shelf.url}/cache/pkg/large.bin`);
  t.equal(refetched.status, 200);
  t.same(Buffer.from(await refetched.arrayBuffer()), large);
  t.ok(existsSync(blobPath(sha256(large))), 'and stored again');
});

t.test('DELETE evicts a cached file from a remote repository; the next request fetches it again', async (t) => {
  const removed = await fetch(`${shelf.url}/cache/pkg/small.bin`, { method: 'DELETE' });
  t.equal(removed.status, 204);
  const before = upstream.requests('/pkg/small.bin').length;
  t.equal((await fetch(`${shelf.url}/cache/pkg/small.bin`)).status, 200);
  t.equal(upstream.requests('/pkg/small.bin').length, before + 1);
  t.equal((await fetch(`${shelf.url}/cache/pkg/small.bin`, { method: 'PUT', body: 'x' })).status, 405, 'writes stay refused');
});

t.test('shelf storage verify --repair refetches cached files and reports hosted ones', async (t) => {
  const cached = randomBytes(5000);
  writeFileSync(join(upstream.root, 'pkg', 'repair.bin'), cached);
  t.equal((await fetch(`${shelf.url}/cache/pkg/repair.bin`)).status, 200);
  const hosted = randomBytes(5000);
  t.equal((await fetch(`${shelf.url}/files/repair.bin`, { method: 'PUT', body: hosted })).status, 201);
  flipByte(sha256(cached), 1);
  flipByte(sha256(hosted), 1);
  const configFile = join(shelf.dataDir, 'verify.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      storage: shelf.storage,
      logging: { level: 'error' },
      repositories: [
        { key: 'files', format: 'generic', type: 'local', allowRedeploy: true },
        { key: 'cache', format: 'generic', type: 'remote', url: upstream.url, metadataTtlSeconds: 3600 },
      ],
    }),
  );
  const verify = await runTool(process.execPath, ['dist/cli/main.js', 'storage', 'verify', '--repair', '--config', configFile], { PATH: process.env.PATH });
  t.equal(verify.code, 1, 'hosted content could not be repaired');
  t.match(verify.stdout, /2 corrupt/);
  t.match(verify.stdout, /refetched: cache\/pkg\/repair\.bin/);
  t.match(verify.stdout, /not repaired: files\/repair\.bin \(hosted: deploy it again\)/);
  const again = await fetch(`${shelf.url}/cache/pkg/repair.bin`);
  t.same(Buffer.from(await again.arrayBuffer()), cached, 'the cached file is whole again');
  t.ok(quarantined(sha256(hosted)), 'the damaged hosted blob is in quarantine');
});
