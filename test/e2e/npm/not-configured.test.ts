import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { freePort } from '../../helpers/ports.js';
import { runTool } from '../../helpers/run-tool.js';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';

/**
 * The shipped default config, served with none of the environment its npm upstream comes from (a service
 * whose shelf.env is empty): every other repository and the CLI work, and npm-remote says what to set.
 */
const dir = mkdtempSync(join(tmpdir(), 'shelf-not-configured-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const { npm_config_registry: _registry, SHELF_NPM_UPSTREAM: _upstream, ...bareEnv } = process.env;
const port = await freePort();
const configFile = join(dir, 'shelf.yaml');
writeFileSync(
  configFile,
  readFileSync('config/shelf.yaml', 'utf8')
    .replace(/^ {2}port: \d+/m, `  port: ${port}`)
    .replace(/^ {2}host: .*/m, '  host: 127.0.0.1')
    .replace(/^ {2}workers: \d+/m, '  workers: 1')
    .replace(/^ {2}dataDir: .*/m, `  dataDir: ${join(dir, 'data')}`),
);
const cli = (...args: string[]) => runTool(process.execPath, ['dist/cli/main.js', ...args, '--config', configFile], bareEnv);

const server = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', configFile], { env: bareEnv, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
t.teardown(() => server.kill('SIGTERM'));
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 300 && !(await fetch(`${url}/-/healthz`).then((r) => r.ok, () => false)); i++) await sleep(100);

t.test('CLI commands work with no environment', async (t) => {
  const added = spawnSync(process.execPath, ['dist/cli/main.js', 'user', 'add', 'alice', '--password-stdin', '--config', configFile], {
    env: bareEnv,
    input: 'alice-password-1',
    encoding: 'utf8',
  });
  t.equal(added.status, 0, added.stderr);
  const joined = await cli('group', 'set', 'developers', '--members', 'alice');
  t.equal(joined.code, 0, joined.stderr);
  const check = await runTool(process.execPath, ['dist/cli/main.js', 'config', 'check', configFile], bareEnv);
  t.equal(check.code, 0, check.stderr);
  t.match(check.stdout, /warning: repository npm-remote is not configured until SHELF_NPM_UPSTREAM or npm_config_registry is set/);
});

t.test('the server starts, reports the repository, and serves the others', async (t) => {
  t.match(output, /repository npm-remote is not configured: its url needs the environment variable SHELF_NPM_UPSTREAM or npm_config_registry/);
  const ready = await fetch(`${url}/-/readyz`);
  t.equal(ready.status, 200);
  t.same((await ready.json()).notConfigured, [{ key: 'npm-remote', variables: ['SHELF_NPM_UPSTREAM', 'npm_config_registry'] }]);

  const direct = await fetch(`${url}/npm-remote/left-pad`);
  t.equal(direct.status, 503);
  t.match(await direct.text(), /repository npm-remote is not configured: its url needs the environment variable SHELF_NPM_UPSTREAM or npm_config_registry/);

  // alice publishes through the virtual repository with a token the CLI made, run with no environment too.
  const token = await cli('token', 'create', 'alice', '--repositories', 'npm,npm-local', '--actions', 'read,write', '--expires-days', '1');
  t.equal(token.code, 0, token.stderr);
  const secret = /\S{30,}/.exec(token.stdout)?.[0];
  t.ok(secret, token.stdout);
  const registry = `${url}/npm/`;
  await publishPackage(t, registry, 'shelf-unconfigured-demo', '1.0.0', `--${registry.replace(/^https?:/, '')}:_authToken=${secret}`);
  const project = new ClientProject(registry, { name: 'app', version: '1.0.0', private: true, dependencies: { 'shelf-unconfigured-demo': '1.0.0' } }, [
    `${registry.replace(/^https?:/, '')}:_authToken=${secret}`,
  ]);
  t.teardown(() => project.remove());
  const installed = await project.npm('install');
  t.equal(installed.code, 0, installed.stderr);
  t.equal(project.file('node_modules/shelf-unconfigured-demo/index.js'), "module.exports = '1.0.0';\n");

  const missing = await project.npm('view', 'shelf-not-there-anywhere');
  t.not(missing.code, 0);
  t.match(missing.stderr, /503/);
});
