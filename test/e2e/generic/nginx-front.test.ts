import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../../helpers/ports.js';
import { runTool } from '../../helpers/run-tool.js';
import { startShelfProcess } from '../../helpers/shelf.js';

// A front nginx (Debian's) with the site `shelf service nginx-front` writes: it proxies everything, and sends
// a large blob itself (sendfile) only when Shelf, having verified the file, names it with X-Accel-Redirect.
const FRONT = new URL('../../harness/front-nginx.sh', import.meta.url).pathname;
const LOCATION = '/_shelf/blobs/';

const shelf = await startShelfProcess(
  {
    server: { xAccelLocation: LOCATION, trustProxy: true },
    repositories: [
      { key: 'files', format: 'generic', type: 'local' },
      { key: 'secret', format: 'generic', type: 'local' },
    ],
    security: { permissions: [{ name: 'public', repositories: ['files'], anonymous: ['read', 'write'] }] },
  },
  1,
);
t.teardown(() => shelf.stop());

const frontPort = await freePort();
const site = join(shelf.dataDir, 'front.conf');
const run = join(shelf.dataDir, 'front');
execFileSync(process.execPath, ['dist/cli/main.js', 'service', 'nginx-front', '--config', join(shelf.dataDir, 'shelf.yaml'), '--listen', `127.0.0.1:${frontPort}`, '--output', site]);
execFileSync('bash', [FRONT, 'start', site, run], { stdio: 'pipe' });
t.teardown(() => execFileSync('bash', [FRONT, 'stop', site, run]));
const front = `http://127.0.0.1:${frontPort}`;

const content = randomBytes(8 * 1024 * 1024);
const digest = createHash('sha256').update(content).digest('hex');
const blobFile = join(shelf.dataDir, 'data', 'blobs', 'sha256', digest.slice(0, 2), digest);
const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

t.test('an upload through the front, then downloads: the first verified by Shelf, the next sent by nginx', async (t) => {
  t.equal((await fetch(`${front}/files/big.bin`, { method: 'PUT', body: content })).status, 201);
  // The blob file's own date differs from the artifact's: the answer must carry the artifact's.
  utimesSync(blobFile, new Date('2001-01-01'), new Date('2001-01-01'));

  const first = await fetch(`${front}/files/big.bin`);
  t.equal(first.status, 200);
  t.ok((await bytesOf(first)).equals(content), 'Shelf streamed it, verifying it');

  const direct = await fetch(`${shelf.url}/files/big.bin`, { headers: { 'x-sendfile-type': 'X-Accel-Redirect' } });
  t.equal(direct.headers.get('x-accel-redirect'), `${LOCATION}${digest.slice(0, 2)}/${digest}`, 'now verified: Shelf names the file');
  t.equal((await bytesOf(direct)).length, 0, 'and sends no bytes itself');
  const plain = await fetch(`${shelf.url}/files/big.bin`);
  t.equal(plain.headers.get('x-accel-redirect'), null, 'a request that did not come through the front gets the bytes');
  t.ok((await bytesOf(plain)).equals(content));

  const second = await fetch(`${front}/files/big.bin`);
  t.equal(second.status, 200);
  t.ok((await bytesOf(second)).equals(content), 'nginx sent the file');
  t.equal(second.headers.get('etag'), `"sha256:${digest}"`, "Shelf's headers are kept");
  t.equal(second.headers.get('x-checksum-sha256'), digest);
  t.equal(second.headers.get('content-type'), plain.headers.get('content-type'));
  t.equal(second.headers.get('last-modified'), plain.headers.get('last-modified'), "Shelf's Last-Modified, not the blob file's");
  t.equal(second.headers.get('x-accel-redirect'), null, 'the internal header does not reach the client');

  const range = await fetch(`${front}/files/big.bin`, { headers: { range: 'bytes=100-199' } });
  t.equal(range.status, 206, 'nginx answers the range itself');
  t.equal(range.headers.get('content-range'), `bytes 100-199/${content.length}`);
  t.ok((await bytesOf(range)).equals(content.subarray(100, 200)));

  const cached = await fetch(`${front}/files/big.bin`, { headers: { 'if-none-match': `"sha256:${digest}"` } });
  t.equal(cached.status, 304, 'Shelf still answers conditional requests');
});

t.test('a file small enough to be read whole is handed off too, once read and verified; a tiny one never', async (t) => {
  for (const [name, size, handedOff] of [['half.bin', 512 * 1024, true], ['tiny.bin', 1024, false]] as const) {
    const bytes = randomBytes(size);
    t.equal((await fetch(`${front}/files/${name}`, { method: 'PUT', body: bytes })).status, 201);
    t.ok((await bytesOf(await fetch(`${front}/files/${name}`))).equals(bytes));
    const direct = await fetch(`${shelf.url}/files/${name}`, { headers: { 'x-sendfile-type': 'X-Accel-Redirect' } });
    t.equal(direct.headers.get('x-accel-redirect') !== null, handedOff, `${name}: handed off ${handedOff}`);
    await direct.arrayBuffer();
    t.ok((await bytesOf(await fetch(`${front}/files/${name}`))).equals(bytes));
  }
});

t.test('shelf service nginx-front refuses a config without server.xAccelLocation, saying what to set', async (t) => {
  const config = join(shelf.dataDir, 'no-front.yaml');
  writeFileSync(config, `storage: { dataDir: ${join(shelf.dataDir, 'no-front-data')} }\n`);
  const refused = await runTool(process.execPath, ['dist/cli/main.js', 'service', 'nginx-front', '--config', config], process.env);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^failed: set server\.xAccelLocation in the config first/);
});

t.test('the front does not widen access', async (t) => {
  t.equal((await fetch(`${front}${LOCATION}${digest.slice(0, 2)}/${digest}`)).status, 404, 'the blob location is internal to nginx');
  const refused = await fetch(`${front}/secret/big.bin`, { headers: { 'x-sendfile-type': 'X-Accel-Redirect' } });
  t.equal(refused.status, 401, 'Shelf still decides who may read');
});

t.test('a file damaged after it was verified is not trusted: Shelf checks it again and breaks the transfer off', async (t) => {
  const bytes = readFileSync(blobFile);
  bytes[5 * 1024 * 1024] ^= 0xff;
  writeFileSync(blobFile, bytes);
  const damaged = await runTool('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', `${front}/files/big.bin`], { PATH: process.env.PATH });
  t.not(damaged.code, 0, 'curl sees the transfer break off');
  t.ok(Number(damaged.stdout) < content.length, 'short of the whole file');
  t.ok(readdirSync(join(shelf.dataDir, 'data', 'blobs', 'quarantine')).some((name) => name.startsWith(digest)), 'and the blob is quarantined');
  t.equal((await fetch(`${front}/files/big.bin`)).status, 500, 'then it is a server fault, never the damaged bytes');
});
