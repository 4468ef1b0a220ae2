import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { ShelfIndex } from '../../src/app.js';
import { PostgresIndex } from '../../src/storage/postgres-index.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';
import { postgresMissing, startPostgres } from './postgres.js';

/** Opens a new, empty index of one kind, closed when the test ends. */
export type OpenIndex = () => Promise<ShelfIndex>;

/**
 * Runs `tests` once per kind of metadata index: SQLite, and PostgreSQL (in a server of its own) where it is
 * installed; `.ci/run` installs it, so CI runs both.
 */
export async function eachIndexKind(t: Test, tests: (t: Test, open: OpenIndex) => Promise<void> | void): Promise<void> {
  await t.test('sqlite', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'shelf-index-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    let opened = 0;
    await tests(t, async () => {
      const index = new SqliteIndex(join(dir, `index-${++opened}.sqlite`));
      t.teardown(() => index.close());
      return index;
    });
  });
  await t.test('postgres', { skip: postgresMissing() }, async (t) => {
    const server = await startPostgres();
    t.teardown(() => server.destroy());
    await tests(t, async () => {
      const index = await PostgresIndex.open({ url: await server.createDatabase() });
      t.teardown(() => index.close());
      return index;
    });
  });
}
