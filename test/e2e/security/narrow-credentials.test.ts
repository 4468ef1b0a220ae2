import { readFileSync } from 'node:fs';
import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { startShelf } from '../../helpers/shelf.js';

// A request never does more than the narrowest credential it presented, and listings never name what the
// caller may not read.

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const bearer = (token: string) => `Bearer ${token}`;

const shelf = await startShelf({
  repositories: [
    { key: 'generic-local', format: 'generic', type: 'local', allowRedeploy: true },
    { key: 'other', format: 'generic', type: 'local' },
    { key: 'maven-local', format: 'maven', type: 'local' },
    { key: 'docker-local', format: 'docker', type: 'local' },
  ],
  security: {
    permissions: [
      { name: 'writers', repositories: ['ANY'], users: { writer: ['read', 'write', 'delete', 'annotate'] } },
      { name: 'public', repositories: ['generic-local', 'maven-local'], excludes: ['private/**', 'com/corp/secret/**'], anonymous: ['read'] },
    ],
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
await identity.addUser({ name: 'root', password: 'root-password', admin: true });
await identity.addUser({ name: 'writer', password: 'writer-password' });
await identity.addUser({ name: 'victim', password: 'victim-password' });

const call = async (method: string, path: string, authorization?: string, body?: unknown) => {
  const response = await fetch(`${shelf.url}${path}`, {
    method,
    headers: { ...(authorization && { authorization }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json: json as Record<string, unknown>, text };
};

const scopedToken = async (user: string, repositories: string[], actions: string[]) =>
  (await identity.issueToken(user, 'scoped', null, { repositories, actions: actions as never })).token;

t.test('a scoped token cannot mint a wider token', async (t) => {
  const readOnly = await scopedToken('writer', ['generic-local'], ['read']);
  t.equal((await call('PUT', '/other/a.txt', basic('writer', readOnly), 'x')).status, 403, 'the scope holds on its own');

  const unscopedAsk = await call('POST', '/api/security/token', bearer(readOnly), { description: 'escape' });
  t.equal(unscopedAsk.status, 201, 'a token it may make: within its own scope');
  t.same(unscopedAsk.json.scope, { repositories: ['generic-local'], actions: ['read'] }, 'the new token inherits the scope');
  const child = unscopedAsk.json.token as string;
  t.equal((await call('PUT', '/other/a.txt', bearer(child), 'x')).status, 403, 'the child cannot write elsewhere');
  t.equal((await call('PUT', '/generic-local/a.txt', bearer(child), 'x')).status, 403, 'nor write where its parent only reads');

  const wider = await call('POST', '/api/security/token', bearer(readOnly), { scope: { repositories: ['ANY'], actions: ['read', 'write'] } });
  t.equal(wider.status, 403, wider.text);
  const form = await fetch(`${shelf.url}/api/security/token`, {
    method: 'POST',
    headers: { authorization: bearer(readOnly), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'scope=other:read,write',
  });
  t.equal(form.status, 403, "Artifactory's form fields get the same answer");
  const forOthers = await call('POST', '/api/security/token', bearer(readOnly), { username: 'victim' });
  t.equal(forOthers.status, 403, 'nor a token for another user');

  const expiring = (await identity.issueToken('writer', 'short', Date.now() + 60_000, { repositories: ['generic-local'], actions: ['read'] })).token;
  const longer = await call('POST', '/api/security/token', bearer(expiring), { expiresInSeconds: 86_400 });
  t.equal(longer.status, 201);
  t.ok((longer.json.expiresAt as number) <= Date.now() + 60_000, 'the child expires no later than its parent');
  const forever = await call('POST', '/api/security/token', bearer(expiring), {});
  t.ok((forever.json.expiresAt as number) <= Date.now() + 60_000, 'a token without expiry made by an expiring one expires with it');
});

t.test("an administrator's scoped token cannot administer", async (t) => {
  const adminScoped = await scopedToken('root', ['generic-local'], ['read']);
  const promote = await call('PUT', '/api/security/users/victim', bearer(adminScoped), { admin: true });
  t.equal(promote.status, 403, promote.text);
  t.match(promote.json.message ?? promote.text, /scoped token cannot administer/);
  t.equal((await shelf.app.index.getUser('victim'))?.admin, false, 'no new administrator');
  t.equal((await call('GET', '/api/security/users', bearer(adminScoped))).status, 403);
  t.equal((await call('PUT', '/api/security/permissions/everything', bearer(adminScoped), { repositories: ['ANY'], anonymous: ['write'] })).status, 403);
  t.equal((await call('POST', '/api/security/token', bearer(adminScoped), { username: 'victim' })).status, 403, 'nor tokens for others');
  const listed = await call('GET', '/api/security/token', bearer(adminScoped));
  t.equal(listed.status, 200);
  t.ok((listed.json as unknown as { username: string }[]).every((token) => token.username === 'root'), 'it lists only its own user’s tokens');

  const unscoped = (await identity.issueToken('root', 'automation')).token;
  t.equal((await call('GET', '/api/security/users', bearer(unscoped))).status, 200, 'an unscoped admin token administers');
});

t.test('registry tokens are good for the registry API only, and the catalog grant reads nothing', async (t) => {
  const adminToken = await call('GET', '/v2/token?service=shelf&scope=repository:docker-local/app:pull', basic('root', 'root-password'));
  t.equal(adminToken.status, 200);
  const jwt = adminToken.json.token as string;
  const adminApi = await call('GET', '/api/security/users', bearer(jwt));
  t.equal(adminApi.status, 401, 'a pull token of an administrator cannot call the admin API');
  t.match(adminApi.text, /registry API/);
  t.equal((await call('PUT', '/generic-local/from-jwt.txt', bearer(jwt), 'x')).status, 401, 'nor deploy files');
  t.equal((await call('GET', '/api/repositories', bearer(jwt))).status, 401);

  const readOnly = await scopedToken('writer', ['generic-local'], ['read']);
  const catalogToken = await call('GET', '/v2/token?service=shelf&scope=registry:catalog:*', basic('writer', readOnly));
  t.equal(catalogToken.status, 200);
  const catalogJwt = catalogToken.json.token as string;
  const tags = await call('GET', '/v2/docker-local/app/tags/list', bearer(catalogJwt));
  t.equal(tags.status, 401, 'the catalog grant does not read images');
  t.match(tags.headers.get('www-authenticate'), /insufficient_scope/);
  const catalog = await call('GET', '/v2/_catalog', bearer(catalogJwt));
  t.equal(catalog.status, 200);
  t.same(catalog.json.repositories, [], 'the catalog is filtered by the scope of the token it was issued for');

  const pullOnly = await call('GET', '/v2/token?service=shelf&scope=repository:docker-local/app:pull', basic('writer', 'writer-password'));
  const noCatalog = await call('GET', '/v2/_catalog', bearer(pullOnly.json.token as string));
  t.equal(noCatalog.status, 401, 'a token without the catalog scope is asked to get one');
  t.match(noCatalog.headers.get('www-authenticate'), /scope="registry:catalog:\*",error="insufficient_scope"/);
});

t.test('the audit log names the token that acted', async (t) => {
  const token = await identity.issueToken('writer', 'ci', null, { repositories: ['generic-local'], actions: ['read', 'write'] });
  t.equal((await call('PUT', '/generic-local/audited.txt', bearer(token.token), 'x')).status, 201);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const lines = readFileSync(shelf.auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const write = lines.find((l) => l.event === 'write' && l.path === 'audited.txt');
  t.equal(write?.credential, `token:${token.record.id}`);
  t.equal(write?.user, 'writer');
});

t.test('storage listings show only what the caller may read', async (t) => {
  for (const path of ['public/a.txt', 'private/secret-name.txt', 'private/deeper/key.pem']) {
    t.equal((await call('PUT', `/generic-local/${path}`, basic('writer', 'writer-password'), 'x')).status, 201);
  }
  const root = await call('GET', '/api/storage/generic-local/');
  t.equal(root.status, 200);
  const names = (root.json.children as { uri: string }[]).map((c) => c.uri);
  t.ok(names.includes('/public'));
  t.notOk(names.includes('/private'), 'an excluded folder is not listed');
  t.equal((await call('GET', '/api/storage/generic-local/private/')).status, 404, 'nor its children');
  t.equal((await call('GET', '/api/storage/generic-local/private')).status, 404);
  t.notMatch((await call('GET', '/api/storage/generic-local/private/deeper/')).text, /key\.pem/);
  const asWriter = await call('GET', '/api/storage/generic-local/private/', basic('writer', 'writer-password'));
  t.same((asWriter.json.children as { uri: string }[]).map((c) => c.uri).sort(), ['/deeper', '/secret-name.txt'], 'who may read sees it');

  for (const path of ['com/corp/secret/lib/1.0/lib-1.0.jar', 'com/corp/open/lib/1.0/lib-1.0.jar']) {
    t.equal((await call('PUT', `/maven-local/${path}`, basic('writer', 'writer-password'), 'jar')).status, 201);
  }
  const corp = await call('GET', '/api/storage/maven-local/com/corp/');
  t.same((corp.json.children as { uri: string }[]).map((c) => c.uri), ['/open'], 'Maven folders the same');
  const search = await call('GET', `/api/search/checksum?sha256=${'2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881'}`);
  t.notMatch(search.text, /private/, 'checksum search does not name excluded paths');
});
