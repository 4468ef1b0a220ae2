import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { startShelf } from '../../helpers/shelf.js';

// Bad-login floods: throttled per user and address with back-off (never a lockout of the user elsewhere, never
// a valid token), the proxy's own hop as the address, one bounded thread for scrypt that file reads never wait for.

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

const shelf = await startShelf({
  server: { trustProxy: true },
  repositories: [{ key: 'files', format: 'generic', type: 'local' }],
  security: {
    permissions: [{ name: 'public', repositories: ['files'], anonymous: ['read'], users: { admin: ['read', 'write'] } }],
    loginThrottle: { maxFailuresPerUser: 5, maxFailuresPerAddress: 1000, windowSeconds: 600, maxDelaySeconds: 60 },
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
await identity.addUser({ name: 'admin', password: 'admin-password' });
const token = (await identity.issueToken('admin', 'ci')).token;
await identity.addUser({ name: 'builder', password: 'builder-password' });
await fetch(`${shelf.url}/files/small.bin`, { method: 'PUT', body: 'x'.repeat(1024), headers: { authorization: basic('admin', 'admin-password') } });

const request = (authorization: string, from: string, path = '/files/small.bin') =>
  fetch(`${shelf.url}${path}`, { headers: { authorization, 'x-forwarded-for': from } }).then(async (r) => ({
    status: r.status,
    retryAfter: r.headers.get('retry-after'),
    body: await r.text(),
  }));

const passwordChecks = async () => {
  const text = await (await fetch(`${shelf.url}/-/metrics`)).text();
  return Number(/shelf_password_checks_total\{outcome="hashed"\} (\d+)/.exec(text)?.[1] ?? 0);
};

t.test('five bad passwords from one address do not lock the user out elsewhere, nor their tokens', async (t) => {
  for (let i = 0; i < 5; i++) t.equal((await request(basic('admin', `guess-${i}`), '10.0.0.1')).status, 401);
  const throttled = await request(basic('admin', 'admin-password'), '10.0.0.1');
  t.equal(throttled.status, 429, 'that address waits, even with the right password');
  t.equal(throttled.retryAfter, '1', 'for a second at first: a back-off, not a lockout');
  t.equal((await request(basic('admin', 'admin-password'), '10.0.0.2')).status, 200, 'the user logs in from elsewhere');
  t.equal((await request(`Bearer ${token}`, '10.0.0.1')).status, 200, 'a valid token is never throttled');
  t.equal((await request(basic('admin', token), '10.0.0.1')).status, 200, 'nor as the Basic password');
  const forged = await request(basic('admin', 'guess-x'), '192.0.2.99, 10.0.0.1');
  t.equal(forged.status, 429, 'an address the client prepends to X-Forwarded-For changes nothing: the proxy’s hop counts');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.equal((await request(basic('admin', 'guess-after'), '10.0.0.1')).status, 401, 'after the back-off, one more attempt');
  const longer = await request(basic('admin', 'guess-after-2'), '10.0.0.1');
  t.equal(longer.status, 429);
  t.equal(longer.retryAfter, '2', 'and the back-off doubles');
});

t.test('concurrent guesses are counted before hashing: only the free ones are checked', async (t) => {
  const before = await passwordChecks();
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => request(basic('admin', `parallel-${i}`), '10.0.0.3')));
  const statuses = answers.map((a) => a.status);
  t.equal(statuses.filter((s) => s === 401).length, 5, 'five attempts checked');
  t.equal(statuses.filter((s) => s === 429).length, 55, 'the rest refused before any hashing');
  t.equal((await passwordChecks()) - before, 5, 'five scrypt runs, not sixty');
});

t.test('the same password in flight is hashed once, and the token service uses the credential cache', async (t) => {
  const before = await passwordChecks();
  const answers = await Promise.all(Array.from({ length: 10 }, () => request(basic('builder', 'builder-password'), '10.0.0.4')));
  t.same([...new Set(answers.map((a) => a.status))], [200]);
  for (let i = 0; i < 5; i++) {
    const login = await request(basic('builder', 'builder-password'), '10.0.0.4', '/v2/token?service=shelf&scope=registry:catalog:*');
    t.equal(login.status, 200);
  }
  t.equal((await passwordChecks()) - before, 1, `one scrypt for ten requests and five token-service logins`);
});

t.test('a password flood never stalls file downloads, and its backlog is bounded', async (t) => {
  // Distinct users from distinct addresses: nothing throttles these, only the bounded check queue does.
  let pending = 60;
  const flood = Array.from({ length: 60 }, (_, i) =>
    request(basic(`nobody-${i}`, 'guess'), `10.1.0.${i}`).finally(() => pending--),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  const downloads = await Promise.all(Array.from({ length: 20 }, () => request('', '10.2.0.1').then((r) => ({ ...r, pendingAfter: pending }))));
  t.same([...new Set(downloads.map((d) => d.status))], [200]);
  t.ok(downloads.every((d) => d.pendingAfter > 10), `downloads finished while the password checks were still queued (${downloads.at(-1)?.pendingAfter} pending)`);
  const statuses = (await Promise.all(flood)).map((a) => a.status);
  t.ok(statuses.includes(429), 'past the queue bound, checks are refused with 429');
  t.ok(statuses.filter((s) => s === 401).length >= 32, 'the queued ones were answered');
  const refused = await request(basic('nobody-x', 'guess'), '10.3.0.1');
  t.equal(refused.status, 401, 'and the queue drains');
});
