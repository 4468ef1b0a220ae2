import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import t from 'tap';
import { freePort } from '../../helpers/ports.js';
import { runTool } from '../../helpers/run-tool.js';
import { startShelfProcess } from '../../helpers/shelf.js';

/** A CA and two server certificates for 127.0.0.1 from it (the second replaces the first on SIGHUP). */
const pki = mkdtempSync(join(tmpdir(), 'shelf-tls-'));
t.teardown(() => rmSync(pki, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Shelf test CA');
writeFileSync(join(pki, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
for (const [name, serial] of [['first', '1001'], ['second', '2002']] as const) {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '2', '-extfile', 'san.cnf', '-out', `${name}.crt`);
}
execFileSync('cp', [join(pki, 'first.crt'), join(pki, 'server.crt')]);
execFileSync('cp', [join(pki, 'first.key'), join(pki, 'server.key')]);

const tlsPort = await freePort();
const shelf = await startShelfProcess(
  {
    server: { tls: { port: tlsPort, certFile: join(pki, 'server.crt'), keyFile: join(pki, 'server.key'), redirectHttp: true } },
    repositories: [{ key: 'files', format: 'generic', type: 'local' }],
    security: { permissions: [{ name: 'public', repositories: ['files'], anonymous: ['read'] }] },
  },
  2,
);
t.teardown(() => shelf.stop());
const https = `https://127.0.0.1:${tlsPort}`;
const dataDir = join(shelf.dataDir, 'data');
const adminPassword = readFileSync(join(dataDir, 'security', 'initial-admin-password'), 'utf8').trim();
const curl = async (...args: string[]) => (await runTool('curl', ['-s', '--cacert', join(pki, 'ca.crt'), ...args], { PATH: process.env.PATH })).stdout;

const peerSerial = () =>
  new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: tlsPort, ca: readFileSync(join(pki, 'ca.crt')) }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });

t.test('the first start makes an administrator with a generated password, kept in a file only Shelf can read', async (t) => {
  t.match(adminPassword, /^\S{16,}$/);
  t.equal(statSync(join(dataDir, 'security', 'initial-admin-password')).mode & 0o777, 0o600);
  t.equal(statSync(join(dataDir, 'security', 'jwt.key')).mode & 0o777, 0o600, 'the token signing key, made on first start');
  t.match(shelf.output(), /initial administrator; its generated password is in passwordFile/);
  const users = JSON.parse(await curl('-u', `admin:${adminPassword}`, `${https}/api/security/users`)) as { name: string; admin: boolean }[];
  t.same(users.map((u) => [u.name, u.admin]), [['admin', true]]);
});

t.test('HTTPS: the configured certificate, HSTS, and plain HTTP redirected', async (t) => {
  const headers = await curl('-D', '-', '-o', '/dev/null', `${https}/-/healthz`);
  t.match(headers, /^HTTP\/1\.1 200/);
  t.match(headers, /strict-transport-security: max-age=31536000/i);
  const redirect = await fetch(`${shelf.url}/files/a.txt`, { redirect: 'manual' });
  t.equal(redirect.status, 308);
  t.equal(redirect.headers.get('location'), `${https}/files/a.txt`);
  t.equal((await fetch(`${shelf.url}/-/healthz`)).status, 200, 'probes stay on HTTP');
  // --location-trusted: curl sends the credentials on to the HTTPS port (another origin) only when told to.
  const put = await curl('-o', '/dev/null', '-w', '%{http_code}', '--location-trusted', '-u', `admin:${adminPassword}`, '-T', '/etc/hostname', `${shelf.url}/files/a.txt`);
  t.equal(put, '201', 'curl follows the redirect to HTTPS with its upload');
  const certDir = mkdtempSync(join(tmpdir(), 'shelf-skopeo-certs-'));
  t.teardown(() => rmSync(certDir, { recursive: true, force: true }));
  execFileSync('cp', [join(pki, 'ca.crt'), join(certDir, 'ca.crt')]);
  const login = await runTool('skopeo', ['login', `--authfile=${join(certDir, 'auth.json')}`, `--cert-dir=${certDir}`, '-u', 'admin', '-p', adminPassword, `127.0.0.1:${tlsPort}`], { PATH: process.env.PATH, HOME: certDir });
  t.equal(login.code, 0, `skopeo login over verified TLS: ${login.stderr}`);
});

t.test('SIGHUP reloads the certificate in every worker', async (t) => {
  t.equal(await peerSerial(), '03E9', 'the first certificate (serial 1001)');
  execFileSync('cp', [join(pki, 'second.crt'), join(pki, 'server.crt')]);
  execFileSync('cp', [join(pki, 'second.key'), join(pki, 'server.key')]);
  shelf.child.kill('SIGHUP');
  for (let i = 0; i < 50 && (shelf.output().match(/reloaded the TLS certificate/g) ?? []).length < 2; i++) await sleep(100);
  t.equal((shelf.output().match(/reloaded the TLS certificate/g) ?? []).length, 2, 'both workers');
  for (let i = 0; i < 4; i++) t.equal(await peerSerial(), '07D2', 'the second certificate (serial 2002), whichever worker answers');
  t.equal(shelf.child.exitCode, null, 'still running');
});

t.test('a token revoked through one worker is refused by all of them at once', async (t) => {
  const created = JSON.parse(await curl('-u', `admin:${adminPassword}`, '-X', 'POST', '-H', 'content-type: application/json', '-d', '{"description":"ci"}', `${https}/api/security/token`)) as { id: string; token: string };
  const status = () => curl('-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${created.token}`, `${https}/api/security/token`);
  for (let i = 0; i < 4; i++) t.equal(await status(), '200');
  t.equal(await curl('-o', '/dev/null', '-w', '%{http_code}', '-u', `admin:${adminPassword}`, '-X', 'DELETE', `${https}/api/security/token/${created.id}`), '204');
  for (let i = 0; i < 4; i++) t.equal(await status(), '401', 'refused, by whichever worker');
});

t.test('a certificate that does not match its key stops the start with a clear message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-bad-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'shelf.yaml');
  const tls = { port: await freePort(), certFile: join(pki, 'first.crt'), keyFile: join(pki, 'second.key') };
  writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: await freePort(), workers: 2, tls }, storage: { dataDir: join(dir, 'data') } }));
  const started = await runTool(process.execPath, ['dist/cli/main.js', 'serve', '--config', config], { PATH: process.env.PATH });
  t.equal(started.code, 1);
  t.match(started.stdout, /could not start: server\.tls: cannot use .*first\.crt with .*second\.key: .*key values mismatch/);
});

t.test('no password or token appears in any log line', async (t) => {
  const logout = await curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', `${https}/files/-/user/token/shelf_secret-token-value`);
  t.ok(logout);
  await curl('-u', 'admin:wrong-password-attempt', `${https}/files/a.txt`);
  await sleep(200);
  const audit = readFileSync(shelf.auditLog, 'utf8');
  for (const [name, text] of [['request log', shelf.output()], ['audit log', audit]] as const) {
    t.notOk(text.includes(adminPassword), `${name}: no generated password`);
    t.notOk(text.includes('wrong-password-attempt'), `${name}: no attempted password`);
    t.notMatch(text, /shelf_[A-Za-z0-9_-]{20,}/, `${name}: no token`);
    t.notMatch(text, /eyJ[\w-]+\.[\w-]+\./, `${name}: no registry token`);
  }
  t.match(audit, /"event":"login".*"result":"failed"/);
});
