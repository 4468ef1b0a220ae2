import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { stringify } from 'yaml';
import { ClientProject, publishPackage } from '../../helpers/npm-harness.js';
import { startShelf, startShelfProcess, testStorage } from '../../helpers/shelf.js';
import { Identity } from '../../../src/security/identity.js';

// Replication between two appliances over HTTP, as signed incremental bundles: B (an edge, in its own
// process with its scheduler) pulls from A every two seconds; A pushes to B when asked.
const root = mkdtempSync(join(tmpdir(), 'shelf-replication-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const repositories = [
  { key: 'files', format: 'generic', type: 'local' },
  { key: 'npm-local', format: 'npm', type: 'local' },
  { key: 'mirrored', format: 'generic', type: 'local' },
];
const basic = (user: string) => ({ authorization: `Basic ${Buffer.from(user).toString('base64')}` });

process.env.SHELF_TEST_B_PASSWORD = 'b-root-password';
const cli = (storage: Record<string, unknown>, ...args: string[]) => {
  const config = join(root, `cli-${Math.random()}.yaml`);
  writeFileSync(config, stringify({ storage, repositories, logging: { level: 'warn' } }));
  return execFileSync(process.execPath, ['dist/cli/main.js', ...args, '--config', config], { encoding: 'utf8', input: process.env.SHELF_TEST_B_PASSWORD, stdio: ['pipe', 'pipe', 'ignore'] });
};
// Both appliances run as operators run them (shelf serve): their job threads run the built code.
const aBase = join(root, 'a');
mkdirSync(join(aBase, 'data'), { recursive: true });
const aKey = join(root, 'a.pub');
writeFileSync(aKey, cli({ dataDir: join(aBase, 'data') }, 'keys', 'create'));
const a = await startShelfProcess({ repositories }, 1, { baseDir: aBase });
t.teardown(() => a.stop());

const bBase = join(root, 'b');
mkdirSync(join(bBase, 'data'), { recursive: true });
const bStorage = await testStorage({ dataDir: join(bBase, 'data') });
cli(bStorage, 'user', 'add', 'root', '--admin', '--password-stdin');
const b = await startShelfProcess(
  {
    repositories,
    storage: bStorage,
    server: { mode: 'edge' },
    bundles: { trustedKeys: [aKey] },
    replication: [
      { name: 'from-a', url: a.url, repositories: ['files', 'npm-local'], intervalSeconds: 2 },
      { name: 'mirror-a', url: a.url, repositories: ['mirrored'], intervalSeconds: 2, deletes: true },
    ],
  },
  1,
  { baseDir: bBase },
);
t.teardown(() => b.stop());

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what} did not happen within 30 s:\n${b.output().split("\n").filter((l) => !l.includes('"msg":"request"')).join("\n").slice(-3000)}`);
}
const status = async (url: string) => (await fetch(url)).status;

t.test('pull: what is deployed on A appears on B within a replication period, and only what changed travels', async (t) => {
  t.equal((await fetch(`${a.url}/files/r/one.txt`, { method: 'PUT', body: 'one' })).status, 201);
  await publishPackage(t, `${a.url}/npm-local/`, 'replicated', '1.0.0');
  await eventually('the first replication', async () => (await status(`${b.url}/files/r/one.txt`)) === 200);
  const consumer = new ClientProject(`${b.url}/npm-local/`, { name: 'c', version: '1.0.0', private: true, dependencies: { replicated: '1.0.0' } });
  t.teardown(() => consumer.remove());
  const installed = await consumer.npm('install');
  t.equal(installed.code, 0, installed.stderr);

  const before = (await (await fetch(`${b.url}/api/replication`, { headers: basic('root:b-root-password') })).json()) as { records: number; lastBundle: { id: string } }[];
  t.equal((await fetch(`${a.url}/files/r/two.txt`, { method: 'PUT', body: 'two' })).status, 201);
  await eventually('the next replication', async () => (await status(`${b.url}/files/r/two.txt`)) === 200);
  const [state] = (await (await fetch(`${b.url}/api/replication`, { headers: basic('root:b-root-password') })).json()) as {
    name: string; records: number; lastError: string | null; lastSuccessAt: number; lastBundle: { id: string };
  }[];
  t.match(state, { name: 'from-a', lastError: null });
  t.equal(state!.records - before[0]!.records, 1, 'the second bundle carried exactly the new file');
  t.not(state!.lastBundle.id, before[0]!.lastBundle.id);
  t.match(await (await fetch(`${b.url}/-/metrics`)).text(), /shelf_replication_failing\{replication="from-a"\} 0/);
  t.equal((await fetch(`${b.url}/api/replication`)).status, 401, 'administrators only');
});

t.test('deletes: a replication that mirrors removes what the source no longer holds', async (t) => {
  for (const name of ['x', 'y']) t.equal((await fetch(`${a.url}/mirrored/${name}.txt`, { method: 'PUT', body: name })).status, 201);
  await eventually('the mirror', async () => (await status(`${b.url}/mirrored/y.txt`)) === 200);
  t.equal((await fetch(`${a.url}/mirrored/x.txt`, { method: 'DELETE' })).status, 204);
  await eventually('the deletion', async () => (await status(`${b.url}/mirrored/x.txt`)) === 404);
  t.equal(await (await fetch(`${b.url}/mirrored/y.txt`)).text(), 'y', 'what the source still holds stays');
  t.equal(await status(`${b.url}/files/r/one.txt`), 200, 'a replication without deletes keeps everything');
});

t.test('an export asks for read on everything it carries; a source without a signing key says so', async (t) => {
  const noKey = await startShelf({ repositories });
  t.teardown(() => noKey.stop());
  const refused = await fetch(`${noKey.url}/api/export?repositories=files`);
  t.equal(refused.status, 409);
  t.match(await refused.text(), /shelf keys create/);
  t.equal((await fetch(`${a.url}/api/export?repositories=nope`)).status, 404);
  const badAfter = await fetch(`${a.url}/api/export?repositories=files&after=../../x&afterTime=1`);
  t.equal(badAfter.status, 400, 'after names a bundle id');
  t.match(await badAfter.text(), /is not a bundle id/);
});

t.test('push: C sends what changed to B, which verifies it like any bundle', async (t) => {
  // C signs with the key B trusts (A's), and pushes its own content.
  const c = await startShelf({
    repositories,
    bundles: { signingKeyFile: join(aBase, 'data', 'security', 'bundle-signing.key') },
    replication: [{ name: 'to-b', direction: 'push', url: b.url, auth: { username: 'root', password: { env: 'SHELF_TEST_B_PASSWORD' } }, repositories: ['files'] }],
  });
  t.teardown(() => c.stop());
  await new Identity(c.app.index).addUser({ name: 'root', password: 'c-root-password', admin: true });
  const push = async () => {
    const run = await fetch(`${c.url}/api/replication/to-b/run`, { method: 'POST', headers: basic('root:c-root-password') });
    t.equal(run.status, 200);
    return (await run.json()) as Record<string, unknown>;
  };
  t.equal((await fetch(`${c.url}/files/p/pushed.txt`, { method: 'PUT', body: 'pushed' })).status, 201);
  t.match(await push(), { name: 'to-b', direction: 'push', records: 1, bundle: { id: /-/ } });
  t.equal(await (await fetch(`${b.url}/files/p/pushed.txt`)).text(), 'pushed');
  const again = await push();
  t.match(again, { records: 0 }, 'nothing changed: nothing sent');
  t.notOk('bundle' in again);

  const wrongPassword = await startShelf({
    repositories,
    bundles: { signingKeyFile: join(aBase, 'data', 'security', 'bundle-signing.key') },
    replication: [{ name: 'to-b', direction: 'push', url: b.url, auth: { username: 'root', password: { env: 'PATH' } }, repositories: ['files'] }],
  });
  t.teardown(() => wrongPassword.stop());
  await new Identity(wrongPassword.app.index).addUser({ name: 'root', password: 'x-root-password', admin: true });
  const refused = await fetch(`${wrongPassword.url}/api/replication/to-b/run`, { method: 'POST', headers: basic('root:x-root-password') });
  t.equal(refused.status, 500);
  t.match(await refused.text(), /\/api\/import answered 401/);
});

t.test('B keeps serving when A is stopped, and says the replication is failing', async (t) => {
  await a.stop();
  await eventually('a failed run', async () => /shelf_replication_failing\{replication="from-a"\} 1/.test(await (await fetch(`${b.url}/-/metrics`)).text()));
  t.equal(await (await fetch(`${b.url}/files/r/two.txt`)).text(), 'two');
  const [state] = (await (await fetch(`${b.url}/api/replication`, { headers: basic('root:b-root-password') })).json()) as { lastError: string }[];
  t.match(state!.lastError, /ECONNREFUSED|fetch failed|connect/);
});
