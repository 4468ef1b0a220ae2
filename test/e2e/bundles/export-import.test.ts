import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

// A signed bundle from appliance A to appliance B (no upstream reachable): only what was exported, verified
// before anything is visible, all at once, once; and the real npm client installs on B.
const root = mkdtempSync(join(tmpdir(), 'shelf-bundles-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const repositories = [
  { key: 'files', format: 'generic', type: 'local' },
  { key: 'npm-local', format: 'npm', type: 'local' },
  { key: 'npm-cache', format: 'npm', type: 'remote', url: 'http://127.0.0.1:9/' },
];
const a = await startShelf({ repositories });
const b = await startShelf({ repositories });
t.teardown(() => a.stop());
t.teardown(() => b.stop());

/** The CLI against one side's data directory, as its operator runs it. */
function cli(side: typeof a, extra: Record<string, unknown>, ...args: string[]) {
  const config = join(root, `${side === a ? 'a' : 'b'}-${Math.random()}.yaml`);
  writeFileSync(config, stringify({ storage: side.storage, repositories, logging: { level: 'warn' }, ...extra }));
  return spawnSync(process.execPath, ['dist/cli/main.js', ...args, '--config', config], { encoding: 'utf8' });
}
const keys = cli(a, {}, 'keys', 'create');
const publicKey = join(root, 'a.pub');
writeFileSync(publicKey, keys.stdout);
const trustA = { bundles: { trustedKeys: [publicKey] } };
const blobFiles = (side: typeof a) => readdirSync(join(side.dataDir, 'blobs', 'sha256')).flatMap((d) => readdirSync(join(side.dataDir, 'blobs', 'sha256', d))).sort();
const indexRows = async (side: typeof a) => (await Promise.all(repositories.map((r) => side.app.index.listArtifacts(r.key)))).flat().map((r) => `${r.repo}/${r.path}`).sort();

const publish = (version: string) => publishPackage(t, `${a.url}/npm-local/`, 'carried', version);

t.test('keys: made once, the public half printed; the private key stays 0600', async (t) => {
  t.equal(keys.status, 0, keys.stderr);
  t.match(keys.stdout, /-----BEGIN PUBLIC KEY-----/);
  t.equal(cli(a, {}, 'keys', 'export-public').stdout, keys.stdout);
  const again = cli(a, {}, 'keys', 'create');
  t.equal(again.status, 1);
  t.match(again.stderr, /never replaced/);
});

t.test('export on A, import on B: npm installs there with no upstream; only content travels', async (t) => {
  await publish('1.0.0');
  t.equal((await fetch(`${a.url}/files/tools/tool.bin`, { method: 'PUT', body: 'tool v1' })).status, 201);
  t.equal((await fetch(`${a.url}/files/private/other.bin`, { method: 'PUT', body: 'not exported' })).status, 201);
  const out = join(root, 'full');
  const exported = cli(a, {}, 'export', '--repositories', 'files,npm-local', '--out', out);
  t.equal(exported.status, 0, exported.stderr);
  t.match(exported.stdout, /bundle [0-9a-f-]{36}: \d+ records, \d+ blobs/);
  const manifest = readFileSync(join(out, 'manifest.json'), 'utf8');
  t.notMatch(manifest, /password|token|jwt/i, 'no credentials in the bundle');

  const imported = cli(b, trustA, 'import', out);
  t.equal(imported.status, 0, imported.stderr);
  t.match(imported.stdout, /imported bundle .*: \d+ records, \d+ blobs \(\d+ new\)/);
  t.equal(await (await fetch(`${b.url}/files/tools/tool.bin`)).text(), 'tool v1');
  const consumer = new ClientProject(`${b.url}/npm-local/`, { name: 'offline', version: '1.0.0', private: true, dependencies: { carried: '1.0.0' } });
  t.teardown(() => consumer.remove());
  const installed = await consumer.npm('install');
  t.equal(installed.code, 0, installed.stderr);
  t.equal(consumer.file('node_modules/carried/index.js'), "module.exports = '1.0.0';\n");

  const again = cli(b, trustA, 'import', out);
  t.equal(again.status, 0, again.stderr);
  t.match(again.stdout, /was imported before; nothing changed/);
});

t.test('an incremental bundle carries exactly the difference, and needs its predecessor', async (t) => {
  await publish('1.1.0');
  const next = join(root, 'next');
  const exported = cli(a, {}, 'export', '--repositories', 'files,npm-local', '--out', next, '--after', join(root, 'full'));
  t.equal(exported.status, 0, exported.stderr);
  const manifest = JSON.parse(readFileSync(join(next, 'manifest.json'), 'utf8')) as { records: { path: string }[]; predecessor: string };
  t.same(manifest.records.map((r) => r.path).sort(), ['.npm/carried/dist-tags/latest', '.npm/carried/versions/1.1.0.json', 'carried/-/carried-1.1.0.tgz']);

  // A third bundle on a side that has not seen the second is refused.
  const fresh = await startShelf({ repositories });
  t.teardown(() => fresh.stop());
  const gap = cli(fresh, trustA, 'import', next);
  t.equal(gap.status, 1);
  t.match(gap.stderr, /follows bundle .* which has not been imported here; import that one first/);

  t.equal(cli(b, trustA, 'import', next).status, 0);
  const viewer = new ClientProject(`${b.url}/npm-local/`);
  t.teardown(() => viewer.remove());
  const view = await viewer.npm('view', 'carried', 'versions', '--json');
  t.same(JSON.parse(view.stdout), ['1.0.0', '1.1.0']);
});

t.test('tampered, unsigned or untrusted bundles are refused, and B is unchanged', async (t) => {
  t.equal((await fetch(`${a.url}/files/tools/tool.bin`, { method: 'PUT', body: 'tool v2' })).status, 201);
  const clean = join(root, 'clean');
  t.equal(cli(a, {}, 'export', '--repositories', 'files', '--paths', 'tools/**', '--out', clean).status, 0);
  const before = { blobs: blobFiles(b), rows: await indexRows(b) };
  const variant = (name: string, change: (dir: string) => void) => {
    const dir = join(root, name);
    cpSync(clean, dir, { recursive: true });
    change(dir);
    return dir;
  };
  const blobOf = (dir: string) => {
    const sub = readdirSync(join(dir, 'blobs', 'sha256'))[0]!;
    return join(dir, 'blobs', 'sha256', sub, readdirSync(join(dir, 'blobs', 'sha256', sub))[0]!);
  };
  const cases: [string, string, RegExp][] = [
    [variant('flipped', (dir) => writeFileSync(blobOf(dir), 'tool v3')), 'a blob with changed bytes', /blob sha256:[0-9a-f]{64} of the bundle is damaged or missing/],
    [variant('truncated', (dir) => writeFileSync(blobOf(dir), 'tool')), 'a truncated blob', /damaged or missing/],
    [variant('missing', (dir) => rmSync(blobOf(dir))), 'a missing blob', /damaged or missing/],
    [variant('resigned', (dir) => writeFileSync(join(dir, 'manifest.json'), readFileSync(join(dir, 'manifest.json'), 'utf8').replace('"files"', '"files" '))), 'an altered manifest', /signature does not verify/],
    [variant('unsigned', (dir) => rmSync(join(dir, 'manifest.json.sig'))), 'no signature', /not signed/],
  ];
  for (const [dir, what, message] of cases) {
    const result = cli(b, trustA, 'import', dir);
    t.equal(result.status, 1, what);
    t.match(result.stderr, message, what);
  }
  const untrusted = cli(b, {}, 'import', clean);
  t.match(untrusted.stderr, /no trusted bundle keys are configured/);
  const otherKey = join(root, 'other.pub');
  writeFileSync(otherKey, cli(b, {}, 'keys', 'create').stdout);
  const wrongKey = cli(b, { bundles: { trustedKeys: [otherKey] } }, 'import', clean);
  t.match(wrongKey.stderr, /does not verify with any trusted key/);
  t.same({ blobs: blobFiles(b), rows: await indexRows(b) }, before, "B's index and blob store are unchanged");
  t.equal(await (await fetch(`${b.url}/files/tools/tool.bin`)).text(), 'tool v1');
  t.equal(cli(b, trustA, 'import', clean).status, 0, 'the intact bundle imports');
  t.equal(await (await fetch(`${b.url}/files/tools/tool.bin`)).text(), 'tool v2');
  const narrowed = JSON.parse(readFileSync(join(clean, 'manifest.json'), 'utf8')) as { records: { path: string }[] };
  t.same(narrowed.records.map((r) => r.path), ['tools/tool.bin'], 'paths outside the pattern never travel');
});

t.test('an archive in parts of a fixed size imports whole; a truncated or missing part is refused, B unchanged', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 100);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
  t.equal((await fetch(`${a.url}/files/media/big.bin`, { method: 'PUT', body: big })).status, 201);
  const archive = join(root, 'media', 'bundle.tar');
  const exported = cli(a, {}, 'export', '--repositories', 'files', '--paths', 'media/**', '--out', archive, '--split-size', '1MiB');
  t.equal(exported.status, 0, exported.stderr);
  const parts = readdirSync(join(root, 'media')).sort();
  t.same(parts, ['bundle.tar.000', 'bundle.tar.001', 'bundle.tar.002', 'bundle.tar.003']);
  t.equal(readFileSync(join(root, 'media', 'bundle.tar.000')).length, 1024 * 1024, 'each part is the size asked');
  // The parts joined are one ordinary tar archive.
  const joined = join(root, 'joined.tar');
  writeFileSync(joined, Buffer.concat(parts.map((part) => readFileSync(join(root, 'media', part)))));
  t.match(spawnSync('tar', ['tf', joined], { encoding: 'utf8' }).stdout, /^manifest\.json\nmanifest\.json\.sig\nblobs\/sha256\//);

  const before = { blobs: blobFiles(b), rows: await indexRows(b) };
  const broken = (name: string, change: (dir: string) => void) => {
    const dir = join(root, name);
    cpSync(join(root, 'media'), dir, { recursive: true });
    change(dir);
    return join(dir, 'bundle.tar.000');
  };
  const truncated = broken('truncated-part', (dir) => writeFileSync(join(dir, 'bundle.tar.002'), readFileSync(join(dir, 'bundle.tar.002')).subarray(0, 1000)));
  const missing = broken('missing-part', (dir) => rmSync(join(dir, 'bundle.tar.003')));
  const flipped = broken('flipped-part', (dir) => {
    const bytes = readFileSync(join(dir, 'bundle.tar.002'));
    bytes[5000] ^= 0xff;
    writeFileSync(join(dir, 'bundle.tar.002'), bytes);
  });
  for (const [bundle, what, message] of [
    [truncated, 'a truncated part', /truncated|damaged or missing/],
    [missing, 'a missing part', /truncated|a part is missing|damaged or missing/],
    [flipped, 'a flipped byte', /damaged or missing/],
  ] as const) {
    const result = cli(b, trustA, 'import', bundle);
    t.equal(result.status, 1, what);
    t.match(result.stderr, message, what);
  }
  t.same({ blobs: blobFiles(b), rows: await indexRows(b) }, before, "B's index and blob store are unchanged");

  const imported = cli(b, trustA, 'import', join(root, 'media', 'bundle.tar.000'));
  t.equal(imported.status, 0, imported.stderr);
  t.same(Buffer.from(await (await fetch(`${b.url}/files/media/big.bin`)).arrayBuffer()), big);
  t.equal(cli(b, trustA, 'import', joined).stdout.trim().endsWith('was imported before; nothing changed'), true, 'the joined archive is the same bundle');
});

t.test('POST /api/import: administrators import a bundle on the host, in a thread of its own', async (t) => {
  const c = await startShelf({ repositories, bundles: { trustedKeys: [publicKey] } });
  t.teardown(() => c.stop());
  await new Identity(c.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
  const post = (body: unknown, user?: string) =>
    fetch(`${c.url}/api/import`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(user && { authorization: `Basic ${Buffer.from(user).toString('base64')}` }) },
      body: JSON.stringify(body),
    });
  const archive = join(root, 'media', 'bundle.tar.000');
  t.equal((await post({ path: archive })).status, 401, 'anonymous callers may not');
  t.equal((await post({ path: archive }, 'shelf:shelf')).status, 403, 'users may not');
  const refused = await post({ path: join(root, 'truncated-part', 'bundle.tar.000') }, 'root:root-password');
  t.equal(refused.status, 400);
  t.match(await refused.text(), /truncated|damaged or missing/);
  const imported = await post({ path: archive }, 'root:root-password');
  t.equal(imported.status, 200);
  t.match(await imported.json(), { imported: true, records: 1, blobs: 1, newBlobs: 1 });
  t.equal((await fetch(`${c.url}/files/media/big.bin`)).status, 200);
  t.match(await (await post({ path: archive }, 'root:root-password')).json(), { imported: false });
  t.match(readFileSync(c.auditLog, 'utf8'), /"event":"import","user":"root".*"result":"ok"/);
});

t.test('POST /api/import with an archive as the body: past server.maxUploadBytes, 413 and nothing kept', async (t) => {
  const c = await startShelf({ server: { maxUploadBytes: 64 * 1024 }, repositories, bundles: { trustedKeys: [publicKey] } });
  t.teardown(() => c.stop());
  await new Identity(c.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
  const admin = { authorization: `Basic ${Buffer.from('root:root-password').toString('base64')}` };
  // Chunked, so that no Content-Length announces the size: the limit holds while the body streams.
  const body = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(16 * 1024));
      controller.close();
    },
  });
  const refused = await fetch(`${c.url}/api/import`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/x-tar' },
    body,
    duplex: 'half',
  } as RequestInit);
  t.equal(refused.status, 413);
  t.match(await refused.text(), /65536 bytes/);
  t.same(readdirSync(join(c.dataDir, 'imports')), [], 'the partial archive was removed');
});

t.test('kill -9 half-way through an import leaves nothing visible; importing again completes', async (t) => {
  for (let i = 0; i < 120; i++) {
    const body = Buffer.alloc(512 * 1024, i);
    t.equal((await fetch(`${a.url}/files/many/f${i}.bin`, { method: 'PUT', body })).status, 201);
  }
  const bundle = join(root, 'many.tar');
  t.equal(cli(a, {}, 'export', '--repositories', 'files', '--paths', 'many/**', '--out', bundle).status, 0);
  const d = await startShelf({ repositories });
  t.teardown(() => d.stop());
  const config = join(root, 'd.yaml');
  writeFileSync(config, stringify({ storage: d.storage, repositories, logging: { level: 'warn' }, ...trustA }));
  const blobCount = () => (existsSync(join(d.dataDir, 'blobs', 'sha256')) ? blobFiles(d).length : 0);
  const before = blobCount();
  const child = spawn(process.execPath, ['dist/cli/main.js', 'import', bundle, '--config', config], { stdio: 'ignore' });
  while (blobCount() < before + 20 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.ok(blobCount() > before && blobCount() < before + 120, `killed half-way (${blobCount() - before} of 120 blobs copied)`);
  t.same(await d.app.index.listArtifacts('files'), [], 'no record is visible');
  t.equal((await fetch(`${d.url}/files/many/f0.bin`)).status, 404);

  const again = spawnSync(process.execPath, ['dist/cli/main.js', 'import', bundle, '--config', config], { encoding: 'utf8' });
  t.equal(again.status, 0, again.stderr);
  t.equal((await d.app.index.listArtifacts('files')).length, 120);
  t.same(Buffer.from(await (await fetch(`${d.url}/files/many/f7.bin`)).arrayBuffer()), Buffer.alloc(512 * 1024, 7));
});

t.test('an edge node serves what bundles bring, refuses every change, and shows where its content came from', async (t) => {
  const edge = await startShelf({ repositories, server: { mode: 'edge' }, bundles: { trustedKeys: [publicKey] } });
  t.teardown(() => edge.stop());
  await new Identity(edge.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
  const admin = { authorization: `Basic ${Buffer.from('root:root-password').toString('base64')}` };
  const archive = join(root, 'media', 'bundle.tar.000');
  const imported = await fetch(`${edge.url}/api/import`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ path: archive }) });
  t.equal(imported.status, 200);
  t.equal((await fetch(`${edge.url}/files/media/big.bin`)).status, 200, 'imported content is served');

  for (const [method, path] of [['PUT', '/files/media/new.bin'], ['DELETE', '/files/media/big.bin']] as const) {
    const refused = await fetch(`${edge.url}${path}`, { method, headers: admin, ...(method === 'PUT' && { body: 'x' }) });
    t.equal(refused.status, 403, `${method} is refused, even to an administrator`);
    t.match(await refused.text(), /edge node \(server\.mode: edge\)/);
  }
  const publisher = new ClientProject(`${edge.url}/npm-local/`, { name: 'refused', version: '1.0.0', license: 'MIT' });
  t.teardown(() => publisher.remove());
  const published = await publisher.npm('publish');
  t.not(published.code, 0);
  t.match(published.stderr, /edge node/, 'npm prints why');

  const bundles = (await (await fetch(`${edge.url}/api/bundles`, { headers: admin })).json()) as { source: string; keyId: string; records: number }[];
  t.match(bundles, [{ source: `file:${archive}`, keyId: /^[0-9a-f]{16}$/, records: 1 }]);
  t.equal((await fetch(`${edge.url}/api/bundles`)).status, 401);
});
