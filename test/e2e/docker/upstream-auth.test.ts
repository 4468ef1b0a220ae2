import t from 'tap';
import { ociImages, pullCheck, pushImages, RegistryUpstream } from '../../helpers/docker-harness.js';
import { DockerTokenServer } from '../../helpers/docker-token-server.js';
import { startShelf } from '../../helpers/shelf.js';

const images = ociImages();
process.env.SHELF_TEST_HUB_PASSWORD = 'hub-secret';
process.env.SHELF_TEST_WRONG_PASSWORD = 'not-it';

const tokens = new DockerTokenServer('puller:hub-secret');
await tokens.start();
const tokenRegistry = new RegistryUpstream();
await tokenRegistry.start(['--token', tokens.realm, tokens.certFile]);
const basicRegistry = new RegistryUpstream();
await basicRegistry.start(['--htpasswd', 'puller:hub-secret']);
t.teardown(async () => {
  for (const registry of [tokenRegistry, basicRegistry]) await registry.close();
  await tokens.stop();
});
await pushImages(basicRegistry.address, images, 'puller:hub-secret');

const password = (env: string) => ({ username: 'puller', password: { env } });
const shelf = await startShelf({
  repositories: [
    { key: 'token-hub', format: 'docker', type: 'remote', url: tokenRegistry.url, auth: password('SHELF_TEST_HUB_PASSWORD') },
    { key: 'token-wrong', format: 'docker', type: 'remote', url: tokenRegistry.url, auth: password('SHELF_TEST_WRONG_PASSWORD') },
    { key: 'basic-hub', format: 'docker', type: 'remote', url: basicRegistry.url, auth: password('SHELF_TEST_HUB_PASSWORD') },
  ],
});
t.teardown(() => shelf.stop());
const host = shelf.url.replace('http://', '');

t.test('basic-auth upstream: pulls through with the configured credentials', async (t) => {
  const result = await pullCheck(`${host}/basic-hub`, images);
  t.equal(result.failed, 0, result.output);
});

t.test('token-auth upstream (as Docker Hub): a token per scope, fetched with the credentials and reused', async (t) => {
  // skopeo fills the upstream through the same token flow (with push scopes).
  await pushImages(tokenRegistry.address, images, 'puller:hub-secret');
  t.ok(tokens.issued.some((s) => s.endsWith(':pull,push')), 'the harness token server issued push tokens to skopeo');
  tokens.issued.length = 0;

  const result = await pullCheck(`${host}/token-hub`, images);
  t.equal(result.failed, 0, result.output);
  const scopes = tokens.issued;
  t.ok(scopes.length > 0, 'Shelf asked the token service');
  t.ok(scopes.every((s) => /^repository:[a-z/]+:pull$/.test(s)), `only pull scopes: ${scopes.join(' ')}`);
  t.equal(new Set(scopes).size, scopes.length, 'each scope\'s token was fetched once and then reused from cache');
});

t.test('refused credentials: a clear upstream error, nothing cached', async (t) => {
  const res = await fetch(`${shelf.url}/v2/token-wrong/library/busybox/manifests/1.0`);
  t.equal(res.status, 502);
  const body = (await res.json()) as { errors: { code: string; message: string }[] };
  t.match(body.errors[0]!.message, /token service .* refused/);
  t.notMatch(JSON.stringify(body), /not-it/, 'the password is never echoed');
});
