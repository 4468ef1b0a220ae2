import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runTool } from '../../helpers/run-tool.js';
import { OPEN_SECURITY, startShelfProcess, type ShelfProcess } from '../../helpers/shelf.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';

/**
 * `shelf backup` while clients write, then the data directory lost, `shelf restore`, and everything that was
 * acknowledged before the backup began is served again, to curl and to npm.
 */
const work = mkdtempSync(join(tmpdir(), 'shelf-backup-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const repositories = [
  { key: 'files', format: 'generic', type: 'local' },
  { key: 'npm-local', format: 'npm', type: 'local' },
];
const baseDir = join(work, 'shelf');
// Restoring replaces the SQLite index in the data directory; on PostgreSQL a restore goes into an empty
// database (test/storage/postgres-index.test.ts), so this suite keeps SQLite whatever SHELF_TEST_INDEX says.
const storage = { index: { type: 'sqlite' } };
let shelf: ShelfProcess = await startShelfProcess({ repositories, storage }, 2, { baseDir: mkdir(baseDir) });
const configFile = join(baseDir, 'shelf.yaml');
const cli = (...args: string[]) => runTool(process.execPath, ['dist/cli/main.js', ...args, '--config', configFile], process.env);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

const before = new Map<string, string>();
for (let i = 0; i < 20; i++) {
  const body = randomBytes(50_000 + i * 1000);
  const status = (await fetch(`${shelf.url}/files/before/${i}.bin`, { method: 'PUT', body })).status;
  if (status !== 201) throw new Error(`upload answered ${status}`);
  before.set(`before/${i}.bin`, sha256(body));
}
await publishPackage(t, `${shelf.url}/npm-local/`, 'shelf-backup-demo', '1.0.0');

t.test('a backup taken while clients write holds everything acknowledged before it began', async (t) => {
  const target = join(work, 'backup');
  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      const status = (await fetch(`${shelf.url}/files/during/${written}.bin`, { method: 'PUT', body: randomBytes(20_000) })).status;
      t.equal(status, 201);
      written += 1;
    }
  })();
  const made = await cli('backup', target);
  writing = false;
  await writer;
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /backed up the index \(schema \d+\) and \d+ blobs/);
  t.ok(written > 0, 'uploads went on during the backup');
  const manifest = JSON.parse(readFileSync(join(target, 'backup.json'), 'utf8'));
  t.equal(manifest.indexOnly, false);
  t.ok(manifest.blobs.count >= 22, 'the 20 files, the tarball and the packument');
  t.ok(existsSync(join(target, 'security', 'jwt.key')), 'the signing key travels with it');

  const again = await cli('backup', target);
  t.equal(again.code, 0, again.stderr);

  t.equal((await cli('restore', target)).code, 1, 'restore refuses while Shelf runs');

  await shelf.stop();
  rmSync(join(baseDir, 'data'), { recursive: true, force: true });
  const restored = await cli('restore', target);
  t.equal(restored.code, 0, restored.stderr);
  t.match(restored.stdout, /restored the index of .* blobs copied in/);

  shelf = await startShelfProcess({ repositories, storage, security: OPEN_SECURITY }, 2, { baseDir });
  for (const [path, digest] of before) {
    const response = await fetch(`${shelf.url}/files/${path}`);
    t.equal(response.status, 200, path);
    t.equal(sha256(Buffer.from(await response.arrayBuffer())), digest, path);
  }
  const project = new ClientProject(`${shelf.url}/npm-local/`, { name: 'app', version: '1.0.0', private: true, dependencies: { 'shelf-backup-demo': '1.0.0' } });
  t.teardown(() => project.remove());
  const installed = await project.npm('install');
  t.equal(installed.code, 0, installed.stderr);
  t.equal(project.file('node_modules/shelf-backup-demo/index.js'), "module.exports = '1.0.0';\n");
  const verified = await cli('storage', 'verify');
  t.match(verified.stdout, /0 corrupt, 0 missing/);
});

t.test('an index-only backup restores the index over the blobs in place, keeping the index it replaces', async (t) => {
  const target = join(work, 'index-only');
  const made = await cli('backup', target, '--index-only');
  t.equal(made.code, 0, made.stderr);
  t.same(readdirSync(target).sort(), ['backup.json', 'index.sqlite', 'security']);
  t.equal((await fetch(`${shelf.url}/files/after-backup.txt`, { method: 'PUT', body: 'later' })).status, 201);
  await shelf.stop();
  const restored = await cli('restore', target);
  t.equal(restored.code, 0, restored.stderr);
  t.match(restored.stdout, /the index it replaced is kept as .*index\.sqlite\.before-restore-\d+/);
  shelf = await startShelfProcess({ repositories, storage, security: OPEN_SECURITY }, 1, { baseDir });
  t.equal((await fetch(`${shelf.url}/files/after-backup.txt`)).status, 404, 'what came after the backup is gone from the index');
  t.equal((await fetch(`${shelf.url}/files/before/3.bin`)).status, 200);
});

t.test('a directory without a finished backup is refused', async (t) => {
  await shelf.stop();
  const empty = mkdtempSync(join(work, 'empty-'));
  const refused = await cli('restore', empty);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /holds no finished backup/);
});
