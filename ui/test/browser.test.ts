import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Identity } from '../../src/security/identity.js';
import { layoutDigest, ociImages, skopeo } from '../../test/helpers/docker-harness.js';
import { mavenProject, startMavenUpstream } from '../../test/helpers/maven-harness.js';
import { ClientProject } from '../../test/helpers/npm-harness.js';
import { pypiFixtures, pythonEnv } from '../../test/helpers/pypi-harness.js';
import { runTool } from '../../test/helpers/run-tool.js';
import { startShelf } from '../../test/helpers/shelf.js';

/**
 * The web UI in Debian's chromium, over content the real clients put there (skopeo, npm, twine, mvn).
 * Screenshots of the main pages land in docs/ui/ with SHELF_UI_SCREENSHOTS=1 (in a temporary directory otherwise).
 */

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
if (!CHROMIUM) {
  t.comment('chromium is not installed (apt-get install chromium): the browser tests are skipped');
  process.exit(0);
}

const ADMIN_PASSWORD = 'admin-password-1';
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const screenshots = process.env.SHELF_UI_SCREENSHOTS === '1' ? new URL('../../docs/ui/', import.meta.url).pathname : mkdtempSync(join(tmpdir(), 'shelf-ui-shots-'));
mkdirSync(screenshots, { recursive: true });

const mavenUpstream = await startMavenUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'docker-local', format: 'docker', type: 'local' },
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'npm', format: 'npm', type: 'virtual', members: ['npm-local'], defaultDeployRepo: 'npm-local' },
    { key: 'pypi-local', format: 'pypi', type: 'local' },
    { key: 'maven-local', format: 'maven', type: 'local' },
    { key: 'central', format: 'maven', type: 'remote', url: mavenUpstream.url },
    { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-local', 'central'], defaultDeployRepo: 'maven-local' },
    { key: 'files', format: 'generic', type: 'local' },
  ],
  security: { permissions: [{ name: 'public-npm', repositories: ['npm', 'npm-local'], anonymous: ['read'] }] },
});
t.teardown(() => shelf.stop());
await new Identity(shelf.app.index).addUser({ name: 'admin', password: ADMIN_PASSWORD, admin: true });
const host = new URL(shelf.url).host;
const adminAuth = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const fetchAsAdmin = async (path: string) => Buffer.from(await (await fetch(`${shelf.url}${path}`, { headers: { authorization: adminAuth } })).arrayBuffer());

// What the real clients put into Shelf, and the bytes they sent.
const images = ociImages();
await skopeo('copy', '-q', '--dest-tls-verify=false', '--dest-creds', `admin:${ADMIN_PASSWORD}`, `oci:${images}/small:1.0`, `docker://${host}/docker-local/team/small:1.0`);
const manifestDigest = await layoutDigest(images, 'small:1.0');

const publisher = new ClientProject(`${shelf.url}/npm/`, { name: 'ui-demo', version: '1.0.0', license: 'MIT' }, [`//${host}/npm/:_auth=${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`]);
t.teardown(() => publisher.remove());
writeFileSync(join(publisher.dir, 'index.js'), "module.exports = 'ui-demo';\n");
const published = await publisher.npm('publish');
if (published.code !== 0) throw new Error(published.stderr);
const tarball = await fetchAsAdmin('/npm-local/ui-demo/-/ui-demo-1.0.0.tgz');

const wheel = join(pypiFixtures(), 'uploads', 'shelf_upload-1.0.0-py3-none-any.whl');
const uploaded = await pythonEnv(t).twineAs(`admin:${ADMIN_PASSWORD}`, `${shelf.url}/pypi-local/`, wheel);
if (uploaded.code !== 0) throw new Error(uploaded.stdout + uploaded.stderr);

const maven = mavenProject(t, `${shelf.url}/maven/`, undefined, `admin:${ADMIN_PASSWORD}`);
const deployed = await maven.mvn('deploy', `-Dshelf.deployUrl=${shelf.url}/maven/`);
if (deployed.code !== 0) throw new Error(deployed.stdout.slice(-3000));
const jar = readFileSync(join(maven.dir, 'target', 'hello-1.0.0.jar'));

const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
t.teardown(() => browser.close());
const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: shelf.url });
const page: Page = await context.newPage();
const pageErrors: string[] = [];
page.on('pageerror', (err) => pageErrors.push(err.message));
// Content-security-policy violations and failed loads are console errors (a refused API call is not logged as one).
page.on('console', (message) => {
  if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) pageErrors.push(message.text());
});
/**
 * What a page gets wrong for accessibility, as far as a script can tell: text below 4.5:1 contrast against
 * what is behind it (WCAG AA), form controls without a label, buttons and links without a name.
 */
function accessibilityProblems(): string[] {
  const luminance = (rgb: number[]) => {
    const [r, g, b] = rgb.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const parse = (color: string) => (color.match(/[\d.]+/g) ?? []).map(Number);
  const background = (element: Element | null): number[] => {
    for (let e = element; e; e = e.parentElement) {
      const [r = 0, g = 0, b = 0, a = 1] = parse(getComputedStyle(e).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const problems: string[] = [];
  for (const element of document.querySelectorAll('body *')) {
    const own = [...element.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim() !== '');
    const box = element.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || element.closest('.sr-only, svg')) continue;
    const [fg, bg] = [luminance(parse(getComputedStyle(element).color)), luminance(background(element))];
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)}: ${element.tagName} "${element.textContent!.trim().slice(0, 40)}"`);
  }
  for (const control of document.querySelectorAll<HTMLInputElement>('input, select, textarea')) {
    if (control.labels?.length === 0 && !control.getAttribute('aria-label')) problems.push(`no label: ${control.outerHTML.slice(0, 80)}`);
  }
  for (const named of document.querySelectorAll('button, a[href]')) {
    if ((named.textContent ?? '').trim() === '' && !named.getAttribute('aria-label')) problems.push(`no name: ${named.outerHTML.slice(0, 80)}`);
  }
  return problems;
}

/** A screenshot of the page, and the check that it is accessible. */
async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  t.same(await page.evaluate(accessibilityProblems), [], `${name}: contrast, labels and names`);
}

/** Opens a repository in the tree and follows folder links down to `path` (a file). */
async function browseTo(repo: string, path: string): Promise<void> {
  await page.goto(`${shelf.url}/ui/`);
  await page.getByRole('link', { name: repo, exact: true }).click();
  const segments = path.split('/');
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    await page.getByRole('table').getByRole('link', { name: last ? segment : `${segment}/`, exact: true }).click();
  }
  await page.getByText('SHA-256').waitFor();
}
const shownSha256 = async () => (await page.locator('dt:text-is("SHA-256") + dd code').textContent())?.trim();

t.test('an anonymous visitor is sent to the UI and sees only what anonymous may read', async (t) => {
  await page.goto(shelf.url);
  t.equal(new URL(page.url()).pathname, '/ui/');
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  const keys = await page.locator('tbody th a').allTextContents();
  t.same(keys, ['npm-local', 'npm']);
  t.equal(await page.getByRole('link', { name: 'Administration' }).count(), 0);
});

t.test('sign in as the administrator; every repository is listed with its size', async (t) => {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
  const cookie = (await context.cookies()).find((c) => c.name === 'shelf_session');
  t.match(cookie, { httpOnly: true, sameSite: 'Strict' });
  const keys = await page.locator('tbody th a').allTextContents();
  t.same(keys, ['docker-local', 'npm-local', 'npm', 'pypi-local', 'maven-local', 'central', 'maven', 'files']);
  const npmRow = page.locator('tbody tr', { has: page.getByRole('link', { name: 'npm-local', exact: true }) });
  t.match(await npmRow.textContent(), /npm.*local.*\/npm-local\//);
  await shot('repositories');
});

t.test("each format's content in the tree, with checksums that match what the clients sent", async (t) => {
  await browseTo('docker-local', 'team/small/_tags/1.0');
  t.equal(`sha256:${await shownSha256()}`, manifestDigest, 'a tag is its manifest');
  t.equal(await page.getByRole('region', { name: 'Pull' }).locator('code').textContent(), `docker pull ${host}/docker-local/team/small:1.0\n`);
  await page.goto(`${shelf.url}/ui/repos/npm-local/ui-demo/`);
  const versions = page.getByRole('table', { name: 'Versions of ui-demo' });
  await versions.getByRole('link', { name: '1.0.0' }).waitFor();
  t.match(await versions.locator('tbody tr').first().textContent(), /^1\.0\.0latest/, 'the version with its dist-tag');
  await browseTo('npm-local', 'ui-demo/-/ui-demo-1.0.0.tgz');
  t.equal(await shownSha256(), sha256(tarball));
  t.equal(await page.getByRole('region', { name: 'Install' }).locator('code').textContent(), 'npm install ui-demo@1.0.0\n');
  await shot('artifact');
  // The download button fetches through the signed-in session the very bytes.
  const download = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download' }).click()]).then(([d]) => d);
  t.equal(sha256(readFileSync((await download.path())!)), sha256(tarball));
  await browseTo('pypi-local', 'packages/shelf-upload/shelf_upload-1.0.0-py3-none-any.whl');
  t.equal(await shownSha256(), sha256(readFileSync(wheel)));
  await browseTo('maven-local', 'shelf/sample/hello/1.0.0/hello-1.0.0.jar');
  t.equal(await shownSha256(), sha256(jar));
  await page.getByRole('link', { name: '1.0.0', exact: true }).click();
  await page.getByRole('link', { name: 'hello-1.0.0.pom', exact: true }).waitFor();
  await shot('tree');
});

t.test('properties are edited on the artifact page', async (t) => {
  await browseTo('maven-local', 'shelf/sample/hello/1.0.0/hello-1.0.0.jar');
  await page.getByLabel('Key').fill('qa.state');
  await page.getByLabel('Values (comma-separated)').fill('passed, signed');
  await page.getByRole('button', { name: 'Set property' }).click();
  await page.getByRole('cell', { name: 'passed, signed' }).waitFor();
  const stored = JSON.parse((await fetchAsAdmin('/api/storage/maven-local/shelf/sample/hello/1.0.0/hello-1.0.0.jar')).toString());
  t.same(stored.properties, { 'qa.state': ['passed', 'signed'] });
});

t.test('Set Me Up for npm, copied with a fresh token, makes npm install work', async (t) => {
  await page.goto(`${shelf.url}/ui/setup/npm`);
  await page.getByRole('button', { name: 'Create a token and fill it in' }).click();
  await page.getByText('It is shown only now').waitFor();
  await shot('set-me-up');
  await page.getByRole('button', { name: 'Copy .npmrc' }).click();
  await page.getByText('Copied').waitFor();
  const npmrc = await page.evaluate(() => navigator.clipboard.readText());
  t.match(npmrc, new RegExp(`^registry=${shelf.url}/npm/\n//${host}/npm/:_authToken=shelf_[\\w-]+\n$`));
  // The copied file as the user config of a fresh project: nothing else tells npm where to go.
  const consumer = new ClientProject('http://127.0.0.1:9/', { name: 'consumer', version: '1.0.0', private: true });
  t.teardown(() => consumer.remove());
  writeFileSync(join(consumer.dir, '..', 'npmrc'), npmrc);
  const installed = await consumer.npm('install', 'ui-demo');
  t.equal(installed.code, 0, installed.stderr);
  t.equal(consumer.file('node_modules/ui-demo/index.js'), "module.exports = 'ui-demo';\n");
});

t.test('search by checksum leads to the artifact page', async (t) => {
  await page.goto(`${shelf.url}/ui/search`);
  await page.getByLabel('Checksum').check();
  await page.getByRole('textbox').fill(sha256(jar));
  await page.getByRole('button', { name: 'Search' }).click();
  const result = page.getByRole('table', { name: 'Search results' }).getByRole('link');
  await result.first().waitFor();
  t.same(await result.allTextContents(), ['shelf/sample/hello/1.0.0/hello-1.0.0.jar']);
  await shot('search');
  await result.first().click();
  await page.getByText('SHA-256').waitFor();
  t.equal(await shownSha256(), sha256(jar));
});

let carolToken = '';
t.test('the administration pages create a group, a user, a permission target and a token that curl can use', async (t) => {
  await page.goto(`${shelf.url}/ui/admin/groups`);
  await page.getByLabel('Name', { exact: true }).fill('qa');
  await page.getByLabel('Description').fill('testers');
  await page.getByRole('button', { name: 'Save group' }).click();
  await page.getByRole('rowheader', { name: 'qa' }).waitFor();
  await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Users' }).click();
  const form = page.getByRole('form', { name: 'Create a user' });
  await form.getByLabel('User name').fill('carol');
  await form.getByLabel('Password').fill('carol-password-1');
  await form.getByLabel('Groups').fill('qa');
  await form.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('rowheader', { name: 'carol' }).waitFor();
  await shot('admin-users');

  await page.goto(`${shelf.url}/ui/admin/permissions`);
  await page.getByLabel('Name', { exact: true }).fill('qa-files');
  await page.getByLabel('Repositories').fill('files');
  await page.getByLabel('Groups').fill('qa: read');
  await page.getByRole('button', { name: 'Save permission target' }).click();
  await page.getByRole('rowheader', { name: 'qa-files' }).waitFor();

  t.equal((await fetch(`${shelf.url}/files/report.txt`, { method: 'PUT', headers: { authorization: adminAuth }, body: 'report' })).status, 201);
  await page.goto(`${shelf.url}/ui/tokens`);
  await page.getByLabel('For user').fill('carol');
  await page.getByLabel('Description').fill('ci');
  await page.getByRole('button', { name: 'Create token' }).click();
  carolToken = (await page.getByTestId('new-token').textContent())!.trim();
  t.match(carolToken, /^shelf_/);
  await page.getByRole('cell', { name: 'carol' }).first().waitFor();
  const curl = (...args: string[]) => runTool('curl', ['-s', '-w', '\n%{http_code}', ...args], { PATH: process.env.PATH });
  const withToken = await curl('-H', `Authorization: Bearer ${carolToken}`, `${shelf.url}/files/report.txt`);
  t.equal(withToken.stdout, 'report\n200');
  t.equal((await curl(`${shelf.url}/files/report.txt`)).stdout.split('\n').at(-1), '401');
  t.equal((await curl('-H', `Authorization: Bearer ${carolToken}`, `${shelf.url}/pypi-local/simple/`)).stdout.split('\n').at(-1), '403', 'only where carol may read');

  // Revoked on the page: refused at once.
  const tokenRow = page.locator('tbody tr', { has: page.getByRole('cell', { name: 'ci', exact: true }) });
  const id = (await tokenRow.locator('code').textContent())!.trim();
  await page.getByRole('button', { name: `Revoke token ${id}` }).click();
  await tokenRow.getByRole('cell', { name: 'revoked' }).waitFor();
  t.equal((await curl('-H', `Authorization: Bearer ${carolToken}`, `${shelf.url}/files/report.txt`)).stdout.split('\n').at(-1), '401');

  // The repositories' configuration, read-only, with a remote's upstream.
  await page.goto(`${shelf.url}/ui/admin/repositories`);
  await page.getByText('central', { exact: true }).click();
  await page.getByText(`"url": "${mavenUpstream.url}"`).waitFor();
});

t.test('the system page shows storage, traffic and the audit trail', async (t) => {
  await page.goto(`${shelf.url}/ui/system`);
  await page.getByRole('table', { name: 'Recent audit events' }).getByRole('cell', { name: 'token.create' }).first().waitFor();
  const chart = page.getByRole('img', { name: /requests/ });
  t.match(await chart.getAttribute('aria-label'), /^\d+ requests, \d+ cache hits/);
  t.match(await page.getByRole('rowheader', { name: 'maven-local' }).locator('..').textContent(), /local maven/);
  const node = page.getByRole('table', { name: 'Nodes' }).getByRole('row').nth(1);
  t.match(await node.textContent(), /\(this page's\).*serving/, 'the node answering, heard from');
  await page.getByRole('button', { name: 'Count what garbage collection would free' }).click();
  t.match(await page.getByRole('status').filter({ hasText: 'Garbage collection would remove' }).textContent(), /would remove \d+ blob files/);
  await shot('system');
});

t.test('a reader sees no administration, and changes without the CSRF token are refused', async (t) => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('User name').fill('carol');
  await page.getByLabel('Password').fill('carol-password-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
  t.same(await page.locator('tbody th a').allTextContents(), ['npm-local', 'npm', 'files']);
  t.equal(await page.getByRole('link', { name: 'Administration' }).count(), 0);
  t.equal(await page.getByRole('link', { name: 'System' }).count(), 0);
  await page.goto(`${shelf.url}/ui/admin/users`);
  await page.getByRole('heading', { name: 'Administrators only' }).waitFor();
  const asCarol = await page.evaluate(async () => {
    const users = await fetch('/api/security/users');
    // The page's own origin, but without the header only this app's script sets.
    const forged = await fetch('/api/security/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"description":"forged"}' });
    return { users: users.status, forged: forged.status };
  });
  t.same(asCarol, { users: 403, forged: 403 });

  // A page on another site posting a form to Shelf: the browser sends no session cookie (SameSite=Strict).
  const attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(
      `<form id="f" method="POST" action="${shelf.url}/api/security/token"><input name="description" value="forged"></form><script>document.getElementById('f').submit()</script>`,
    );
  });
  await new Promise<void>((resolve) => attacker.listen(0, 'localhost', resolve));
  t.teardown(() => attacker.close());
  const port = (attacker.address() as { port: number }).port;
  const posted = page.waitForResponse((r) => r.url().endsWith('/api/security/token') && r.request().method() === 'POST');
  await page.goto(`http://localhost:${port}/`);
  t.equal((await posted).status(), 401, 'anonymous: no cookie went with it');
  const tokens = JSON.parse((await fetchAsAdmin('/api/security/token')).toString()) as { description: string }[];
  t.notOk(tokens.some((token) => token.description === 'forged'), 'no token was made');
});

t.test('a session ended elsewhere (a new password) turns the open page into a signed-out one', async (t) => {
  await page.goto(`${shelf.url}/ui/`);
  await page.getByText('Signed in as').waitFor();
  const reset = await fetch(`${shelf.url}/api/security/users/carol`, {
    method: 'PUT',
    headers: { authorization: adminAuth, 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'carol-password-2' }),
  });
  t.equal(reset.status, 200);
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  t.equal(await page.getByText('Signed in as').count(), 0);
});

t.test('keyboard: the skip link and the main navigation are reachable by Tab', async (t) => {
  await page.goto(`${shelf.url}/ui/`);
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Shelf');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Repositories');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Search' }).waitFor();
  t.equal(new URL(page.url()).pathname, '/ui/search');
});

t.test('the accessibility check finds faint text and unlabelled controls', async (t) => {
  const problems = await page.evaluate(() => {
    const faint = document.createElement('p');
    faint.textContent = 'faint';
    faint.style.color = '#aaaaaa';
    const input = document.createElement('input');
    document.querySelector('main')!.append(faint, input);
    return null;
  }).then(() => page.evaluate(accessibilityProblems));
  t.match(problems, [/^contrast 2\.\d+: P "faint"/, /^no label: <input>/]);
  await page.reload();
});

t.test('no page had a script error', async (t) => {
  t.same(pageErrors, []);
});

if (process.env.SHELF_UI_SCREENSHOTS !== '1') t.teardown(() => rmSync(screenshots, { recursive: true, force: true }));
