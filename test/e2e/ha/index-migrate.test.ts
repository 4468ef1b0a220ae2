import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { postgresFor } from '../../helpers/postgres.js';
import { OPEN_SECURITY, startShelfProcess, TEST_USER } from '../../helpers/shelf.js';

// An appliance that grew up on SQLite moves to PostgreSQL (the first step to several nodes): what the real
// clients put into it answers the same afterwards.
const run = promisify(execFile);
const postgres = await postgresFor(t);
if (postgres) {
  const databaseUrl = await postgres.createDatabase();
  const base = mkdtempSync(join(tmpdir(), 'shelf-migrate-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const repositories = [
    { key: 'files', format: 'generic', type: 'local' },
    { key: 'npm-local', format: 'npm', type: 'local' },
  ];
  const login = `Basic ${Buffer.from(`${TEST_USER.name}:${TEST_USER.password}`).toString('base64')}`;

  /** What clients and operators read back, through one node's API. */
  const answers = async (url: string) => {
    // Left out: the node's own address (it listens on a new port after the move), and download counts,
    // which reach the index a few seconds late (they are compared on their own below).
    const get = async (path: string, authorization = login) => {
      const response = await fetch(`${url}${path}`, { headers: { authorization } });
      const body = (await response.text()).replaceAll(url, 'BASE');
      const withoutCounts = (key: string, value: unknown) => (key === 'downloadCount' || key === 'lastDownloaded' ? undefined : value);
      return { status: response.status, body: body.startsWith('{') ? JSON.stringify(JSON.parse(body, withoutCounts)) : body };
    };
    const repositories = JSON.parse((await get('/api/repositories')).body) as { key: string; files: number; bytes: number }[];
    const storage = JSON.parse((await get('/api/storage/files/docs/readme.txt')).body) as Record<string, unknown>;
    return {
      usage: repositories.map(({ key, files, bytes }) => ({ key, files, bytes })),
      file: await get('/files/docs/readme.txt'),
      storage,
      properties: await get('/api/storage/files/docs/readme.txt?properties'),
      packument: JSON.parse((await get('/npm-local/migrated-demo')).body)['dist-tags'] as unknown,
      tokenWorks: (await get('/api/security/token', `Bearer ${token}`)).status,
    };
  };
  let onSqlite: Awaited<ReturnType<typeof startShelfProcess>>;
  let token = '';
  let before: Awaited<ReturnType<typeof answers>>;

  t.before(async () => {
    onSqlite = await startShelfProcess({ repositories, storage: { index: { type: 'sqlite' } } }, 2, { baseDir: base });
    t.teardown(() => onSqlite.stop());
    await publishPackage(t, `${onSqlite.url}/npm-local/`, 'migrated-demo', '1.0.0');
    await publishPackage(t, `${onSqlite.url}/npm-local/`, 'migrated-demo', '1.1.0', '--tag', 'next');
    t.equal((await fetch(`${onSqlite.url}/files/docs/readme.txt`, { method: 'PUT', body: 'hello', headers: { authorization: login } })).status, 201);
    t.equal((await fetch(`${onSqlite.url}/api/storage/files/docs/readme.txt?properties=build=7;team=core`, { method: 'PUT', headers: { authorization: login } })).status, 204);
    const created = await fetch(`${onSqlite.url}/api/security/token`, {
      method: 'POST',
      headers: { authorization: login, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'ci' }),
    });
    token = ((await created.json()) as { token: string }).token;
    await fetch(`${onSqlite.url}/files/docs/readme.txt`); // a download, counted

    before = await answers(onSqlite.url);
    t.match(before, { file: { status: 200, body: 'hello' }, tokenWorks: 200, packument: { latest: '1.0.0', next: '1.1.0' } });
  });

  t.test('refused while Shelf runs: nothing would stop it changing after the copy', async (t) => {
    const refused = await run(process.execPath, ['dist/cli/main.js', 'index', 'migrate', '--from', 'sqlite', '--to', databaseUrl, '--config', join(base, 'shelf.yaml')]).catch(
      (err: { code: number; stderr: string }) => err,
    );
    t.equal((refused as { code: number }).code, 1);
    t.match((refused as { stderr: string }).stderr, /stop it first/);
  });

  t.test('migrated with Shelf stopped, the same node on PostgreSQL answers the same', async (t) => {
    await onSqlite.stop();
    const migrated = await run(process.execPath, ['dist/cli/main.js', 'index', 'migrate', '--from', 'sqlite', '--to', databaseUrl, '--config', join(base, 'shelf.yaml')]);
    t.match(migrated.stdout, /artifacts: \d+ rows/);
    t.match(migrated.stdout, /users: 1 rows/);
    const onPostgres = await startShelfProcess(
      { repositories, storage: { index: { type: 'postgres', url: databaseUrl } }, security: OPEN_SECURITY },
      2,
      { baseDir: base },
    );
    t.teardown(() => onPostgres.stop());
    t.same(await answers(onPostgres.url), before);
    const { stats } = (await (await fetch(`${onPostgres.url}/api/storage/files/docs/readme.txt`)).json()) as { stats: { downloadCount: number } };
    t.ok(stats.downloadCount >= 2, `the downloads counted on SQLite came along (${stats.downloadCount})`);
    const project = new ClientProject(`${onPostgres.url}/npm-local/`);
    t.teardown(() => project.remove());
    const installed = await project.npm('install', 'migrated-demo@next');
    t.equal(installed.code, 0, installed.stderr);
    t.equal(project.file('node_modules/migrated-demo/index.js'), "module.exports = '1.1.0';\n");
    await onPostgres.stop();

    const again = await run(process.execPath, ['dist/cli/main.js', 'index', 'migrate', '--from', 'sqlite', '--to', databaseUrl, '--config', join(base, 'shelf.yaml')]).catch(
      (err: { code: number; stderr: string }) => err,
    );
    t.match(again, { code: 1, stderr: /already holds artifacts or users/ }, 'never merged into a used database');
  });
}
