import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { startShelf, startShelfProcess } from '../helpers/shelf.js';

/** A server with no permissions at all; everything is granted through the CLI while it runs. */
const shelf = await startShelf({ repositories: [{ key: 'files', format: 'generic', type: 'local' }], security: {} });
t.teardown(() => shelf.stop());
const configFile = join(shelf.dataDir, 'cli.yaml');
// The same audit trail as the server's (on PostgreSQL each node has its own, named after its port).
writeFileSync(configFile, stringify({ storage: shelf.storage, security: { auditLog: shelf.auditLog }, repositories: [{ key: 'files', format: 'generic', type: 'local' }] }));
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['dist/cli/main.js', ...args, '--config', configFile], { encoding: 'utf8', input });
const put = (authorization: string, path: string) =>
  fetch(`${shelf.url}/files/${path}`, { method: 'PUT', body: 'x', headers: { authorization } }).then((r) => r.status);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

t.test('users, groups and permission targets from the CLI apply to the running server at once', async (t) => {
  t.equal(cli(['user', 'add', 'dev', '--password-stdin'], 'dev-password\n').status, 0);
  t.equal(cli(['user', 'add', 'dev', '--password-stdin'], 'other\n').status, 1, 'an existing user is not changed by add');
  t.equal(await put(basic('dev', 'dev-password'), 'a.txt'), 403, 'no permission yet');
  t.equal(cli(['group', 'set', 'developers', '--members', 'dev', '--description', 'the team']).status, 0);
  const target = join(shelf.dataDir, 'target.yaml');
  writeFileSync(target, stringify({ repositories: ['files'], excludes: ['secret/**'], groups: { developers: ['read', 'write'] } }));
  const set = cli(['permission', 'set', 'developers-files', target]);
  t.equal(set.status, 0, set.stderr);
  t.equal(await put(basic('dev', 'dev-password'), 'a.txt'), 201);
  t.equal(await put(basic('dev', 'dev-password'), 'secret/a.txt'), 403);
  t.match(cli(['permission', 'list']).stdout, /developers-files\tapi\tfiles\t\*\* -secret\/\*\*\tgroup developers:read\+write/);
  t.match(cli(['group', 'list']).stdout, /developers\tdev\tthe team/);
  t.match(cli(['user', 'list']).stdout, /dev\t-\tuser\tenabled\tpassword\tdevelopers/);
  const bad = cli(['permission', 'set', 'x', '-'], 'repositories: [nope]\n');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /no repository nope/);

  t.equal(cli(['user', 'set', 'dev', '--disabled', 'yes']).status, 0);
  t.equal(await put(basic('dev', 'dev-password'), 'b.txt'), 401, 'disabled');
  t.equal(cli(['user', 'set', 'dev', '--disabled', 'no', '--password-stdin'], 'new-password\n').status, 0);
  t.equal(await put(basic('dev', 'new-password'), 'b.txt'), 201, 'enabled again, with a new password');
  t.equal(cli(['permission', 'remove', 'developers-files']).status, 0);
  t.equal(await put(basic('dev', 'new-password'), 'c.txt'), 403, 'the target is gone');
});

t.test('scoped tokens from the CLI, and an audit trail of every change', async (t) => {
  writeFileSync(join(shelf.dataDir, 'all.yaml'), stringify({ repositories: ['ANY'], users: { dev: ['read', 'write', 'delete'] } }));
  t.equal(cli(['permission', 'set', 'dev-all', join(shelf.dataDir, 'all.yaml')]).status, 0);
  const created = cli(['token', 'create', 'dev', '--repositories', 'files', '--actions', 'read']);
  t.equal(created.status, 0, created.stderr);
  const token = created.stdout.trim().split('\n').at(-1)!;
  t.equal((await fetch(`${shelf.url}/files/b.txt`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  t.equal(await put(`Bearer ${token}`, 'd.txt'), 403, 'read-only scope');
  t.match(cli(['token', 'list', 'dev']).stdout, /active\t.*scope files:read/);
  t.equal(cli(['token', 'create', 'dev', '--repositories', 'files']).status, 1, 'a scope needs actions');

  const audit = readFileSync(shelf.auditLog, 'utf8');
  for (const event of ['user.create', 'user.update', 'group.put', 'permission.put', 'permission.delete', 'token.create']) {
    t.match(audit, new RegExp(`"user":"cli:[^"]+".*"event":"${event.replace('.', '\\.')}"|"event":"${event.replace('.', '\\.')}".*"user":"cli:`), event);
  }
  t.notOk(audit.includes('new-password') || audit.includes(token), 'no secrets');
});

t.test('a refused user add changes nothing; groups the config names exist from the first start', async (t) => {
  const refused = cli(['user', 'add', 'alice', '--groups', 'no-such-group', '--password-stdin'], 'alice-password\n');
  t.equal(refused.status, 1);
  t.match(refused.stderr, /no group no-such-group/);
  t.notMatch(cli(['user', 'list']).stdout, /^alice\t/m, 'the user was not created');

  const fresh = await startShelfProcess(
    {
      repositories: [{ key: 'files', format: 'generic', type: 'local' }],
      security: { permissions: [{ name: 'deployers', repositories: ['ANY LOCAL'], groups: { developers: ['read', 'write'] } }] },
    },
    1,
  );
  t.teardown(() => fresh.stop());
  const freshConfig = join(fresh.dataDir, 'shelf.yaml');
  const add = spawnSync(process.execPath, ['dist/cli/main.js', 'user', 'add', 'alice', '--groups', 'developers', '--config', freshConfig], { encoding: 'utf8' });
  t.equal(add.status, 0, `README's command works on a fresh install: ${add.stderr}`);
  const password = add.stdout.trim().split('\n').at(-1)!.split(/\s+/).at(-1)!;
  const deploy = await fetch(`${fresh.url}/files/a.txt`, { method: 'PUT', body: 'x', headers: { authorization: basic('alice', password) } });
  t.equal(deploy.status, 201, 'and alice deploys as a developer');
});
