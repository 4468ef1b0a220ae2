import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Identity } from '../../src/security/identity.js';
import { startShelf } from '../helpers/shelf.js';

/** The REST endpoints the web UI stands on: sign-in sessions, paged folders, searches, repository details, system views. */

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = basic('root', 'root-password');

/** An upstream that announces a rate-limit budget (as Docker Hub does), and answers 429 for /busy/. */
let remaining = 7;
const limitedUpstream = createServer((req, res) => {
  if (req.url?.startsWith('/busy/')) return res.writeHead(429, { 'retry-after': '120' }).end();
  res.writeHead(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': `${remaining--};w=21600`, 'content-type': 'text/plain' }).end('limited');
});
await new Promise<void>((resolve) => limitedUpstream.listen(0, '127.0.0.1', resolve));
t.teardown(() => limitedUpstream.close());
const limitedUrl = `http://127.0.0.1:${(limitedUpstream.address() as AddressInfo).port}/`;

const shelf = await startShelf({
  repositories: [
    { key: 'files', format: 'generic', type: 'local' },
    { key: 'other', format: 'generic', type: 'local' },
    { key: 'files-remote', format: 'generic', type: 'remote', url: 'http://127.0.0.1:9/', auth: { username: 'u', password: { env: 'HOME' } } },
    { key: 'all-files', format: 'generic', type: 'virtual', members: ['files', 'other'] },
    { key: 'limited', format: 'generic', type: 'remote', url: limitedUrl },
  ],
  security: {
    permissions: [
      { name: 'team', repositories: ['files', 'all-files'], includes: ['team/**'], users: { reader: ['read'] } },
      { name: 'other-readers', repositories: ['other'], users: { reader: ['read'] } },
    ],
    loginThrottle: { maxFailuresPerUser: 2, maxFailuresPerAddress: 50, windowSeconds: 60 },
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
await identity.addUser({ name: 'root', password: 'root-password', admin: true });
await identity.addUser({ name: 'reader', password: 'reader-password' });

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const call = async (method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> => {
  const response = await fetch(`${shelf.url}${path}`, {
    method,
    redirect: 'manual',
    headers: { ...(options.body !== undefined && { 'content-type': 'application/json' }), ...options.headers },
    ...(options.body !== undefined && { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (the UI's page)
  }
  return { status: response.status, headers: response.headers, body };
};
const put = (path: string, content: string, authorization = ADMIN) =>
  fetch(`${shelf.url}${path}`, { method: 'PUT', headers: { authorization }, body: content }).then((r) => r.status);

/** Signs in as a browser does; the cookie and the CSRF token it got. */
async function signIn(username: string, password: string) {
  const answer = await call('POST', '/api/session', { body: { username, password } });
  const setCookie = answer.headers.get('set-cookie') ?? '';
  return { answer, setCookie, cookie: setCookie.split(';')[0]!, csrf: answer.body?.csrfToken as string };
}

t.test('sign-in sets an HttpOnly, SameSite=Strict session cookie; a change needs its CSRF token', async (t) => {
  const { answer, setCookie, cookie, csrf } = await signIn('root', 'root-password');
  t.equal(answer.status, 200);
  t.same(answer.body.user, { name: 'root', admin: true, groups: [] });
  t.match(setCookie, /^shelf_session=[\w-]{40,}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/, 'not Secure over plain HTTP');
  t.ok(csrf.length >= 40);

  const whoAmI = await call('GET', '/api/session', { headers: { cookie } });
  t.same(whoAmI.body, { user: { name: 'root', admin: true, groups: [] }, csrfToken: csrf });
  t.equal(whoAmI.headers.get('cache-control'), 'no-store');

  t.equal(await put('/files/team/a.txt', 'a'), 201);
  const noToken = await call('PUT', '/api/storage/files/team/a.txt?properties=state=ok', { headers: { cookie } });
  t.equal(noToken.status, 403, 'a cross-site request carries the cookie but cannot know the token');
  t.equal(noToken.body.errors[0].code, 'CSRF_TOKEN');
  const wrongToken = await call('PUT', '/api/storage/files/team/a.txt?properties=state=ok', { headers: { cookie, 'x-shelf-csrf': `${csrf.slice(0, -2)}xx` } });
  t.equal(wrongToken.status, 403);
  t.same((await call('GET', '/api/storage/files/team/a.txt', { headers: { authorization: ADMIN } })).body.properties, {}, 'nothing changed');
  const withToken = await call('PUT', '/api/storage/files/team/a.txt?properties=state=ok', { headers: { cookie, 'x-shelf-csrf': csrf } });
  t.equal(withToken.status, 204);
  t.same((await call('GET', '/api/storage/files/team/a.txt', { headers: { cookie } })).body.properties, { state: ['ok'] });

  // A deploy through the protocol is a change too.
  t.equal((await call('PUT', '/files/team/b.txt', { body: 'b', headers: { cookie } })).status, 403);
  t.equal((await call('PUT', '/files/team/b.txt', { body: 'b', headers: { cookie, 'x-shelf-csrf': csrf } })).status, 201);
});

t.test('an Authorization header is judged alone: a session cookie beside it adds nothing', async (t) => {
  const { cookie } = await signIn('root', 'root-password');
  const { token } = await identity.issueToken('reader', 'narrow');
  const asReader = await call('GET', '/api/session', { headers: { cookie, authorization: `Bearer ${token}` } });
  t.equal(asReader.body.user.name, 'reader');
  t.notOk(asReader.body.csrfToken);
  t.equal((await call('GET', '/api/security/users', { headers: { cookie, authorization: `Bearer ${token}` } })).status, 403);
  t.equal((await call('GET', '/api/security/users', { headers: { cookie, authorization: basic('root', 'wrong') } })).status, 401);
});

t.test('signing out ends the session everywhere; a disabled or deleted user has no session', async (t) => {
  const { cookie, csrf } = await signIn('reader', 'reader-password');
  t.equal((await call('DELETE', '/api/session', { headers: { cookie } })).status, 403, 'signing out is a change: CSRF applies');
  const out = await call('DELETE', '/api/session', { headers: { cookie, 'x-shelf-csrf': csrf } });
  t.equal(out.status, 204);
  t.match(out.headers.get('set-cookie'), /^shelf_session=; Max-Age=0;/);
  t.same((await call('GET', '/api/session', { headers: { cookie } })).body, { user: null }, 'the old cookie is anonymous');
  const refused = await call('GET', '/api/storage/other/', { headers: { cookie } });
  t.equal(refused.status, 401);
  t.match(refused.headers.get('www-authenticate'), /^Basic/, 'a client gets the challenge');
  const fromPage = await call('GET', '/api/storage/other/', { headers: { cookie, 'x-requested-with': 'XMLHttpRequest' } });
  t.equal(fromPage.status, 401);
  t.equal(fromPage.headers.get('www-authenticate'), null, "the page's script does not, so the browser puts up no login dialog");

  await identity.addUser({ name: 'leaver', password: 'leaver-password' });
  const leaver = await signIn('leaver', 'leaver-password');
  t.equal((await call('GET', '/api/session', { headers: { cookie: leaver.cookie } })).body.user.name, 'leaver');
  t.equal((await call('PUT', '/api/security/users/leaver', { body: { disabled: true }, headers: { authorization: ADMIN } })).status, 200);
  t.same((await call('GET', '/api/session', { headers: { cookie: leaver.cookie } })).body, { user: null }, 'disabled at once');
  t.equal((await call('PUT', '/api/security/users/leaver', { body: { disabled: false }, headers: { authorization: ADMIN } })).status, 200);
  t.equal((await call('GET', '/api/session', { headers: { cookie: leaver.cookie } })).body.user.name, 'leaver', 'enabled again');
  t.equal((await call('PUT', '/api/security/users/leaver', { body: { password: 'new-password' }, headers: { authorization: ADMIN } })).status, 200);
  t.same((await call('GET', '/api/session', { headers: { cookie: leaver.cookie } })).body, { user: null }, 'a new password ends the old sessions');
  const again = await signIn('leaver', 'new-password');
  t.equal((await call('DELETE', '/api/security/users/leaver', { headers: { authorization: ADMIN } })).status, 204);
  t.same((await call('GET', '/api/session', { headers: { cookie: again.cookie } })).body, { user: null }, 'deleted with the user');
});

t.test('sign-in is JSON only, throttled and audited like every login', async (t) => {
  const form = await call('POST', '/api/session', { body: 'username=root&password=root-password', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(form.status, 415, 'a form on another site cannot sign a browser in');
  t.notOk(form.headers.get('set-cookie'));
  for (const [body, status] of [['{"username": "root", "password": ', 400], ['{"username": "root"}', 400], [JSON.stringify({ username: 'root', password: 'x'.repeat(70 * 1024) }), 413]] as const) {
    const refused = await call('POST', '/api/session', { body, headers: { 'content-type': 'application/json' } });
    t.equal(refused.status, status, `${body.slice(0, 30)}… is refused`);
    t.notOk(refused.headers.get('set-cookie'), 'and signs nobody in');
  }
  await identity.addUser({ name: 'victim', password: 'victim-password' });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await signIn('victim', `guess-${i}`)).answer.status);
  t.same(statuses.slice(0, 2), [401, 401]);
  t.equal(statuses.at(-1), 429, 'the user-and-address back-off of every password check');
  const throttled = await signIn('victim', 'victim-password');
  t.equal(throttled.answer.status, 429, 'even the right password waits');
  t.equal(throttled.setCookie, '');
  const audit = (await call('GET', '/api/system/audit?limit=20', { headers: { authorization: ADMIN } })).body as { event: string; user: string; result: string; via?: string }[];
  t.ok(audit.some((e) => e.event === 'login' && e.user === 'victim' && e.result === 'failed'));
  t.ok(audit.some((e) => e.event === 'login' && e.user === 'victim' && e.result === 'throttled'));
  t.ok(audit.some((e) => e.event === 'login' && e.user === 'root' && e.via === 'ui' && e.result === 'ok'));
});

t.test('folders are listed a page at a time, each child once, from every member of a virtual repository', async (t) => {
  const names: string[] = [];
  for (let i = 0; i < 130; i++) names.push(`f${String(i).padStart(3, '0')}.txt`);
  for (const name of names.slice(0, 70)) t.equal(await put(`/files/team/many/${name}`, name), 201);
  for (const name of names.slice(60)) t.equal(await put(`/other/team/many/${name}`, name), 201);
  // A name sorting around the '/' of a folder of the same stem, and a folder with thousands-deep content.
  t.equal(await put('/files/team/many/f000.txt.d/x', 'x'), 201);
  t.equal(await put('/files/team/many/f000.txt-1', 'y'), 201);
  const expected = [...names, 'f000.txt-1', 'f000.txt.d/'].sort();

  for (const repo of ['files', 'all-files']) {
    const seen: string[] = [];
    let from: string | undefined;
    let pages = 0;
    do {
      const page = await call('GET', `/api/storage/${repo}/team/many/?limit=40${from ? `&from=${from}` : ''}`, { headers: { authorization: ADMIN } });
      t.equal(page.status, 200);
      t.ok(page.body.children.length <= 40);
      seen.push(...page.body.children.map((c: { uri: string; folder: boolean }) => `${c.uri.slice(1)}${c.folder ? '/' : ''}`));
      from = page.body.next;
      pages++;
    } while (from && pages < 10);
    const want = repo === 'files' ? [...names.slice(0, 70), 'f000.txt-1', 'f000.txt.d/'].sort() : expected;
    t.same([...seen].sort(), want, `${repo}: every child once`);
    t.equal(pages, Math.ceil(want.length / 40), `${repo}: no empty last page`);
  }
  const file = (await call('GET', '/api/storage/files/team/many/?limit=1', { headers: { authorization: ADMIN } })).body.children[0];
  t.same(Object.keys(file).sort(), ['folder', 'lastModified', 'size', 'uri']);
  t.equal(file.size, 8);
});

t.test('a reader sees only the folders holding something they may read', async (t) => {
  t.equal(await put('/files/secret/deep/plan.txt', 'plan'), 201);
  t.equal(await put('/files/team/notes.txt', 'notes'), 201);
  const reader = { authorization: basic('reader', 'reader-password') };
  const root = await call('GET', '/api/storage/files/', { headers: reader });
  t.same(root.body.children.map((c: { uri: string }) => c.uri), ['/team']);
  t.equal((await call('GET', '/api/storage/files/secret/', { headers: reader })).status, 404);
  const virtualRoot = await call('GET', '/api/storage/all-files/', { headers: reader });
  t.same(virtualRoot.body.children.map((c: { uri: string }) => c.uri), ['/team'], 'other is readable through its own permission, all-files only by team/**');
});

t.test('search by name, by property and by checksum finds only what the caller may read, a page at a time', async (t) => {
  t.equal(await put('/files/team/lib/widget-1.2.3.tgz', 'widget'), 201);
  t.equal(await put('/files/secret/widget-9.tgz', 'widget'), 201);
  t.equal(await put('/other/team/widget-2.0.0.tgz', 'widget-2'), 201);
  const reader = { authorization: basic('reader', 'reader-password') };
  const byName = async (name: string, headers: Record<string, string>) =>
    ((await call('GET', `/api/search/artifact?name=${encodeURIComponent(name)}`, { headers })).body.results as { repo: string; path: string }[]).map((r) => `${r.repo}${r.path}`);
  t.same(await byName('widget', { authorization: ADMIN }), ['files/secret/widget-9.tgz', 'files/team/lib/widget-1.2.3.tgz', 'other/team/widget-2.0.0.tgz']);
  t.same(await byName('widget', reader), ['files/team/lib/widget-1.2.3.tgz', 'other/team/widget-2.0.0.tgz']);
  t.same(await byName('WIDGET-*.tgz', reader), ['files/team/lib/widget-1.2.3.tgz', 'other/team/widget-2.0.0.tgz'], 'a glob, any case');
  t.same(await byName('lib/*', reader), [], 'a glob with a / matches from the start of the path');
  t.same(await byName('team/lib/*', reader), ['files/team/lib/widget-1.2.3.tgz']);
  t.same(await byName('*/lib/*', reader), ['files/team/lib/widget-1.2.3.tgz']);

  const first = await call('GET', '/api/search/artifact?name=widget&limit=1', { headers: { authorization: ADMIN } });
  t.equal(first.body.results.length, 1);
  const second = await call('GET', `/api/search/artifact?name=widget&limit=5&after=${encodeURIComponent(first.body.next)}`, { headers: { authorization: ADMIN } });
  t.same(second.body.results.map((r: { path: string }) => r.path), ['/team/lib/widget-1.2.3.tgz', '/team/widget-2.0.0.tgz']);
  t.notOk(second.body.next);

  for (const path of ['/files/team/lib/widget-1.2.3.tgz', '/files/secret/widget-9.tgz']) {
    t.equal((await call('PUT', `/api/storage${path}?properties=release=stable;owner=team`, { headers: { authorization: ADMIN } })).status, 204);
  }
  const byProperty = async (query: string, headers: Record<string, string>) =>
    ((await call('GET', `/api/search/prop?${query}`, { headers })).body.results as { path: string }[]).map((r) => r.path);
  t.same(await byProperty('release=stable', { authorization: ADMIN }), ['/secret/widget-9.tgz', '/team/lib/widget-1.2.3.tgz']);
  t.same(await byProperty('release=stable', reader), ['/team/lib/widget-1.2.3.tgz']);
  t.same(await byProperty('release=stable&owner=', { authorization: ADMIN }), ['/secret/widget-9.tgz', '/team/lib/widget-1.2.3.tgz'], 'key= is any value');
  t.same(await byProperty('release=beta', { authorization: ADMIN }), []);
  t.equal((await call('GET', '/api/search/prop?repos=files', { headers: { authorization: ADMIN } })).status, 400);

  const sha256 = createHash('sha256').update('widget').digest('hex');
  const byChecksum = await call('GET', `/api/search/checksum?sha256=${sha256}`, { headers: reader });
  t.same(byChecksum.body.results.map((r: { repo: string; path: string }) => `${r.repo}${r.path}`), ['files/team/lib/widget-1.2.3.tgz']);
  t.equal(byChecksum.body.results[0].size, 6);
});

t.test('repository details: contents and upstream state for readers, the configuration for administrators only', async (t) => {
  const list = (await call('GET', '/api/repositories', { headers: { authorization: ADMIN } })).body as Record<string, unknown>[];
  const files = list.find((r) => r.key === 'files')!;
  t.equal(typeof files.filesCount, 'number');
  t.ok((files.usedSpace as number) > 0);
  const remote = list.find((r) => r.key === 'files-remote')!;
  t.same(remote.upstream, { url: 'http://127.0.0.1:9/', state: 'online' });
  t.equal(remote.cacheHitRatio, null);
  t.same(list.find((r) => r.key === 'all-files')!.members, ['files', 'other']);
  // The upstream fails once: assumed offline, as every process sees it.
  t.equal((await call('GET', '/files-remote/nothing.txt', { headers: { authorization: ADMIN } })).status, 404);
  const after = (await call('GET', '/api/repositories/files-remote', { headers: { authorization: ADMIN } })).body;
  t.equal(after.upstream.state, 'assumed-offline');
  t.match(after.upstream.reason, /./);
  t.match(after.upstream.assumedOfflineUntil, /^\d{4}-\d\d-\d\dT/);
  t.equal(after.configuration.url, 'http://127.0.0.1:9/');
  t.same(after.configuration.auth, { username: 'u', password: { env: 'HOME' } }, 'a reference to a secret, never its value');

  // The budget an upstream announces, as the last answer said; a 429 blocks it until its Retry-After.
  t.equal((await call('GET', '/limited/a.txt', { headers: { authorization: ADMIN } })).status, 200);
  t.same((await call('GET', '/api/repositories/limited', { headers: { authorization: ADMIN } })).body.upstream, {
    url: limitedUrl,
    state: 'online',
    rateLimit: 100,
    rateLimitRemaining: 7,
  });
  t.equal((await call('GET', '/limited/busy/b.txt', { headers: { authorization: ADMIN } })).status >= 400, true);
  const blocked = (await call('GET', '/api/repositories/limited', { headers: { authorization: ADMIN } })).body.upstream;
  t.equal(blocked.state, 'rate-limited');
  t.ok(Date.parse(blocked.blockedUntil) > Date.now() + 60_000, 'until the Retry-After');

  const reader = { authorization: basic('reader', 'reader-password') };
  t.same(((await call('GET', '/api/repositories', { headers: reader })).body as { key: string }[]).map((r) => r.key), ['files', 'other', 'all-files']);
  const asReader = await call('GET', '/api/repositories/files', { headers: reader });
  t.equal(asReader.status, 200);
  t.notOk('configuration' in asReader.body);
  t.equal((await call('GET', '/api/repositories/files-remote', { headers: reader })).status, 404);
});

t.test('system views are for administrators; traffic counts every process’s requests per minute', async (t) => {
  for (const view of ['info', 'traffic', 'audit']) {
    t.equal((await call('GET', `/api/system/${view}`)).status, 401, view);
    t.equal((await call('GET', `/api/system/${view}`, { headers: { authorization: basic('reader', 'reader-password') } })).status, 403, view);
  }
  const info = (await call('GET', '/api/system/info', { headers: { authorization: ADMIN } })).body;
  t.match(info, { version: /^\d+\.\d+\.\d+/, node: process.version, startedAt: /^\d{4}-/ });
  for (let i = 0; i < 5; i++) await call('GET', '/files/team/notes.txt', { headers: { authorization: ADMIN } });
  // The per-minute counts reach the index within a few seconds.
  let total = 0;
  for (let i = 0; i < 20 && total < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const minutes = (await call('GET', '/api/system/traffic?minutes=5', { headers: { authorization: ADMIN } })).body as { at: string; requests: number }[];
    t.equal(minutes.length, 5);
    total = minutes.reduce((sum, m) => sum + m.requests, 0);
  }
  t.ok(total >= 5, `counted ${total}`);
  t.equal((await call('GET', '/api/system/traffic?minutes=0', { headers: { authorization: ADMIN } })).status, 400);
});

t.test('the UI is served at /ui/ with a strict content policy; browsers opening / are sent there', async (t) => {
  const root = await call('GET', '/', { headers: { accept: 'text/html,application/xhtml+xml' } });
  t.equal(root.status, 302);
  t.equal(root.headers.get('location'), '/ui/');
  t.equal((await call('GET', '/')).body.ui, `${shelf.url}/ui/`, 'a client without HTML gets JSON');
  const page = await call('GET', '/ui/repos/files/team/');
  t.equal(page.status, 200, 'every app path is the app page');
  t.match(page.headers.get('content-security-policy'), /default-src 'self'.*frame-ancestors 'none'/);
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  const script = /src="(\/ui\/assets\/main-\w+\.js)"/.exec(page.body as string)?.[1];
  t.ok(script, 'the page names its hashed script');
  const asset = await call('GET', script!);
  t.equal(asset.status, 200);
  t.match(asset.headers.get('cache-control'), /immutable/);
  t.match(asset.headers.get('content-type'), /javascript/);
  t.notMatch(asset.body as string, /https?:\/\/(?!www\.w3\.org)[\w.-]+\.(com|org|net|io)\//, 'nothing loaded from elsewhere');
  t.equal((await call('GET', '/ui/assets/nothing.js')).status, 404);
  t.equal((await call('GET', '/ui')).status, 308);
  t.equal((await call('POST', '/ui/')).status, 405);
});

t.test('behind HTTPS the session cookie is Secure', async (t) => {
  const secure = await startShelf({
    server: { baseUrl: 'https://shelf.example' },
    repositories: [{ key: 'files', format: 'generic', type: 'local' }],
    security: { permissions: [] },
  });
  t.teardown(() => secure.stop());
  await new Identity(secure.app.index).addUser({ name: 'root', password: 'root-password', admin: true });
  const answer = await fetch(`${secure.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'root', password: 'root-password' }),
  });
  t.equal(answer.status, 200);
  t.match(answer.headers.get('set-cookie'), /; HttpOnly; SameSite=Strict; Secure$/);
});

t.test("a password an administrator sets is hashed on the password thread, not the pool that serves files", async (t) => {
  const hashed = async () => {
    const text = (await call('GET', '/-/metrics')).body as string;
    return Number(/^shelf_password_checks_total\{outcome="hashed"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const before = await hashed();
  t.equal((await call('PUT', '/api/security/users/hashed-here', { body: { password: 'a-password-1' }, headers: { authorization: ADMIN } })).status, 201);
  t.equal((await call('PUT', '/api/security/users/hashed-here', { body: { password: 'a-password-2' }, headers: { authorization: ADMIN } })).status, 200);
  // Two new hashes, and the administrator's own password check when its cache entry is new (at most one).
  const after = await hashed();
  t.ok(after - before >= 2 && after - before <= 3, `${after - before} hashes on the thread`);
  t.equal((await signIn('hashed-here', 'a-password-2')).answer.status, 200, 'the hash it made checks out');
});
