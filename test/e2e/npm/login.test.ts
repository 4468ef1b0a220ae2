import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { stringify } from 'yaml';
import { ClientProject } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const shelf = await startShelf({ repositories: [{ key: 'npm-local', format: 'npm', type: 'local' }] });
t.teardown(() => shelf.stop());
const registry = `${shelf.url}/npm-local/`;

/** The `shelf` CLI against the running server's data directory. */
const configFile = join(shelf.dataDir, 'cli.yaml');
writeFileSync(configFile, stringify({ storage: shelf.storage, repositories: [] }));
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['dist/cli/main.js', ...args, '--config', configFile], { encoding: 'utf8', input });

const created = cli(['user', 'add', 'alice', '--email', 'alice@example.org', '--password-stdin'], 'alice-password\n');
if (created.status !== 0) throw new Error(created.stderr);

/**
 * `npm login` as a person runs it: in a terminal (util-linux `script` gives it one), answering the
 * Username and Password prompts.
 */
async function npmLogin(project: ClientProject, username: string, password: string): Promise<string> {
  const command = `npm login --registry ${registry}`;
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: project.dir,
    env: { PATH: process.env.PATH, HOME: join(project.dir, '..', 'home'), npm_config_userconfig: join(project.dir, '..', 'npmrc'), npm_config_cache: join(project.dir, '..', 'cache') },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const waitFor = async (prompt: string) => {
    for (let i = 0; i < 200 && !output.includes(prompt); i++) await sleep(50);
  };
  await waitFor('Username:');
  child.stdin.write(`${username}\r`);
  await waitFor('Password:');
  child.stdin.write(`${password}\r`);
  await new Promise((resolve) => child.on('close', resolve));
  return output;
}

t.test('npm login issues a token that whoami, publish and logout use', async (t) => {
  const project = new ClientProject(registry, { name: 'signed', version: '1.0.0', main: 'index.js', license: 'MIT' });
  t.teardown(() => project.remove());
  writeFileSync(join(project.dir, 'index.js'), 'module.exports = 1;\n');
  // Start without the harness's placeholder token, as a new user would.
  const npmrc = join(project.dir, '..', 'npmrc');
  writeFileSync(npmrc, readFileSync(npmrc, 'utf8').replace(/^.*:_auth=.*$/m, ''));

  const output = await npmLogin(project, 'alice', 'alice-password');
  t.match(output, `Logged in on ${registry}`);
  t.match(readFileSync(npmrc, 'utf8'), /:_authToken=shelf_[A-Za-z0-9_-]+/);
  t.equal((await project.npm('whoami')).stdout.trim(), 'alice');

  t.equal((await project.npm('publish')).code, 0);
  const doc = (await (await fetch(`${shelf.url}/npm-local/signed`)).json()) as any;
  t.same(doc.versions['1.0.0']._npmUser, { name: 'alice' }, 'the publisher is recorded');

  const tokens = cli(['token', 'list', 'alice']).stdout;
  t.match(tokens, /alice\tactive\t/);
  t.notMatch(tokens, /shelf_/, 'token values are never listed');
  t.equal((await project.npm('logout')).code, 0);
  t.match(cli(['token', 'list', 'alice']).stdout, /alice\trevoked\t/);
});

t.test('a wrong password and an unknown user get the same refusal', async (t) => {
  const project = new ClientProject(registry);
  t.teardown(() => project.remove());
  const wrong = await npmLogin(project, 'alice', 'not-her-password');
  const unknown = await npmLogin(project, 'mallory', 'alice-password');
  t.match(wrong, 'incorrect username or password');
  t.match(unknown, 'incorrect username or password');
  t.notMatch(readFileSync(join(project.dir, '..', 'npmrc'), 'utf8'), /shelf_/, 'no token was stored');
});

t.test('tokens from the CLI work as Bearer and as a Basic password; revoked ones do not', async (t) => {
  const issued = cli(['token', 'create', 'alice', '--description', 'ci', '--expires-days', '30']);
  t.equal(issued.status, 0, issued.stderr);
  const token = issued.stdout.trim().split('\n').pop()!;
  const id = /^token (\w+) for alice/.exec(issued.stdout)![1]!;
  const whoami = (authorization: string) =>
    fetch(`${shelf.url}/npm-local/-/whoami`, { headers: { authorization } }).then(async (r) => [r.status, await r.json()]);
  t.same(await whoami(`Bearer ${token}`), [200, { username: 'alice' }]);
  t.same(await whoami(`Basic ${Buffer.from(`alice:${token}`).toString('base64')}`), [200, { username: 'alice' }]);
  t.same(await whoami(`Basic ${Buffer.from('alice:alice-password').toString('base64')}`), [200, { username: 'alice' }]);
  t.equal(cli(['token', 'revoke', id]).status, 0);
  const [status, body] = await whoami(`Bearer ${token}`);
  t.equal(status, 401);
  t.match((body as { error: string }).error, 'invalid credentials');
  t.equal(cli(['token', 'revoke', id]).status, 1, 'revoking twice fails');
});
