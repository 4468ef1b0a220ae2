import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openStorage } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { backup, restore } from '../../src/lifecycle/backup.js';
import { freePort } from '../helpers/ports.js';
import { postgresFor } from '../helpers/postgres.js';

// A PostgreSQL index backs up as SQLite does (an index copy, the blobs it names, the keys), and a backup
// restores into an empty database: never over one in use.
const server = await postgresFor(t);
if (server) {
  const work = mkdtempSync(join(tmpdir(), 'shelf-pg-backup-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const config = async (name: string, url: string) =>
    validateConfig({
      server: { host: '127.0.0.1', port: await freePort() },
      storage: { dataDir: join(work, name), index: { type: 'postgres', url } },
      logging: { level: 'silent' },
    });

  const used = await config('used', await server.createDatabase());
  const { blobs, index } = await openStorage(used);
  const blob = await blobs.write([Buffer.from('backed up')]);
  await index.putArtifact({ repo: 'files', path: 'a.txt', blob, contentType: 'text/plain' }, 'always');
  await index.putUser({ name: 'alice', passwordHash: null, admin: false, disabled: false, createdAt: 1 });
  const target = join(work, 'backup');
  const manifest = await backup({ config: used, index, blobs }, target, { indexOnly: false });
  t.match(manifest, { blobs: { count: 1 } });
  await index.close();

  t.test('restored into an empty database and another data directory, it answers as the original did', async (t) => {
    const fresh = await config('fresh', await server.createDatabase());
    const report = await restore(fresh, target);
    t.equal(report.blobsCopied, 1);
    const restored = await openStorage(fresh);
    t.teardown(() => restored.index.close());
    const record = await restored.index.getArtifact('files', 'a.txt');
    t.equal(record?.blob.sha256, blob.sha256);
    t.equal((await restored.blobs.read(blob.sha256, blob.size)).toString(), 'backed up');
    t.match(await restored.index.getUser('alice'), { name: 'alice' });
  });

  t.test('refused over a database in use, which it leaves as it was', async (t) => {
    await t.rejects(restore(used, target), /already holds artifacts or users/);
    const { index: again } = await openStorage(used);
    t.teardown(() => again.close());
    t.equal((await again.listArtifacts('files')).length, 1);
  });
}
