import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FaultyUpstream } from '../../helpers/faulty-upstream.js';
import { startShelf } from '../../helpers/shelf.js';

// An upstream that serves only with the right credentials, as a private mirror does.
const upstream = new FaultyUpstream();
const url = await upstream.start();
t.teardown(() => upstream.stop());
const seen: (string | undefined)[] = [];
const guarded = (expected: string) => (req: { headers: { authorization?: string } }, res: any) => {
  seen.push(req.headers.authorization);
  if (req.headers.authorization === expected) res.writeHead(200).end('secret content');
  else res.writeHead(401, { 'www-authenticate': 'Basic realm="mirror"' }).end();
};
upstream.on('/basic.txt', guarded(`Basic ${Buffer.from('ci:s3cret').toString('base64')}`));
upstream.on('/bearer.txt', guarded('Bearer tok-123'));

const dir = mkdtempSync(join(tmpdir(), 'shelf-secrets-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'token'), 'tok-123\n');
process.env.SHELF_TEST_MIRROR_PASSWORD = 's3cret';

const shelf = await startShelf({
  repositories: [
    { key: 'basic', format: 'generic', type: 'remote', url, auth: { username: 'ci', password: { env: 'SHELF_TEST_MIRROR_PASSWORD' } } },
    { key: 'bearer', format: 'generic', type: 'remote', url, auth: { token: { file: join(dir, 'token') } } },
    { key: 'anonymous', format: 'generic', type: 'remote', url, assumedOfflineSeconds: 0 },
  ],
});
t.teardown(() => shelf.stop());

t.test('basic credentials from an environment variable', async (t) => {
  const res = await fetch(`${shelf.url}/basic/basic.txt`);
  t.equal(res.status, 200);
  t.equal(await res.text(), 'secret content');
});

t.test('a bearer token from a file', async (t) => {
  const res = await fetch(`${shelf.url}/bearer/bearer.txt`);
  t.equal(res.status, 200);
});

t.test('without credentials the upstream refusal is reported, not passed through as a login prompt', async (t) => {
  const res = await fetch(`${shelf.url}/anonymous/basic.txt`);
  t.equal(res.status, 502);
  t.equal(res.headers.get('www-authenticate'), null);
  t.match(await res.json(), { errors: [{ code: 'UPSTREAM_DENIED' }] });
  t.equal(seen.at(-1), undefined, 'no credentials were sent by the anonymous repository');
});

t.test('a missing secret is a clear start-up error', async (t) => {
  await t.rejects(
    startShelf({
      repositories: [{ key: 'r', format: 'generic', type: 'remote', url, auth: { token: { env: 'SHELF_TEST_UNSET_VAR' } } }],
    }),
    /environment variable SHELF_TEST_UNSET_VAR is not set/,
  );
});
