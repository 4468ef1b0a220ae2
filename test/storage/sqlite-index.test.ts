import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MIGRATIONS, SqliteIndex } from '../../src/storage/sqlite-index.js';
import { blob, metadataIndexContract } from './index-contract.js';

function freshIndex() {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-index-'));
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  t.teardown(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { index, file: join(dir, 'index.sqlite') };
}

t.test('migrations run once and record the schema version', async (t) => {
  const { index, file } = freshIndex();
  const version = index.schemaVersion;
  t.ok(version >= 2, 'artifacts, then users and tokens');
  const again = new SqliteIndex(file);
  t.equal(again.schemaVersion, version, 'a second process opening the same file does not migrate again');
  await again.close();
});

t.test('an index of an older schema is copied aside before its migrations run, and the copy opens as it was', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'index.sqlite');
  const old = new Database(file);
  for (const migration of MIGRATIONS.slice(0, 3)) old.exec(migration);
  old.pragma('user_version = 3');
  old.close();
  const index = new SqliteIndex(file);
  t.equal(index.schemaVersion, MIGRATIONS.length);
  await index.close();
  const copies = readdirSync(join(dir, 'backups'));
  t.equal(copies.length, 1);
  t.match(copies[0], new RegExp(`^index-schema-3-before-${MIGRATIONS.length}-\\d+-\\d+\\.sqlite$`));
  const copy = new SqliteIndex(join(dir, 'backups', copies[0]!), { readOnly: true });
  t.equal(copy.schemaVersion, 3, 'the copy is the index as it was, not migrated');
  await copy.close();

  const again = new SqliteIndex(file);
  await again.close();
  t.equal(readdirSync(join(dir, 'backups')).length, 1, 'an index already up to date is not copied');
});

t.test('the read memo: a change on this connection is seen at once, one from another connection from the next loop turn', async (t) => {
  const { index, file } = freshIndex();
  const other = new SqliteIndex(file);
  t.teardown(() => other.close());
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const user = (name: string) => ({ name, passwordHash: null, email: null, admin: false, disabled: false, createdAt: 1 });

  t.equal(await index.getArtifact('r', 'f'), undefined);
  await index.putArtifact({ repo: 'r', path: 'f', blob: blob(1), contentType: 'x/y' }, 'always');
  t.match(await index.getArtifact('r', 'f'), { blob: blob(1) }, 'its own write, in the same turn');
  const revision = await index.securityRevision();
  await index.putUser(user('ann'));
  t.equal(await index.securityRevision(), revision + 1, 'its own security change, in the same turn');

  await nextTurn();
  t.match(await index.getArtifact('r', 'f'), { blob: blob(1) });
  await other.putArtifact({ repo: 'r', path: 'f', blob: blob(2), contentType: 'x/y' }, 'always');
  await other.putUser(user('bob'));
  await nextTurn();
  t.match(await index.getArtifact('r', 'f'), { blob: blob(2) }, "another process's write");
  t.equal(await index.securityRevision(), revision + 2, "another process's security change");
  const first = await index.getArtifact('r', 'f');
  first!.blob.size = -1;
  t.equal((await index.getArtifact('r', 'f'))!.blob.size, blob(2).size, 'each caller gets its own record');
});

// Everything else an index must do, as the PostgreSQL index will be held to it too.
metadataIndexContract(t, () => freshIndex().index);
