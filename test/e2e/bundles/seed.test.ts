import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { layoutDigest, ociImages, signOnRegistry, skopeo, startRegistryWithImages } from '../../helpers/docker-harness.js';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { ClientProject, packageManagers, publishPackage, startVerdaccio } from '../../helpers/npm-harness.js';
import { pypiFixtures, pythonEnv, startPypiUpstream } from '../../helpers/pypi-harness.js';
import { runTool } from '../../helpers/run-tool.js';
import { startShelf } from '../../helpers/shelf.js';

// The air-gap path end to end: on A (real upstreams) `shelf seed` from lockfiles and lists, `shelf export
// --seed`; on B (no upstream reachable, upstreams stopped) `shelf import`, then every real client installs
// exactly what was seeded, with fresh caches.
const root = mkdtempSync(join(tmpdir(), 'shelf-seed-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const verdaccio = await startVerdaccio(t);
const pypi = await startPypiUpstream(t);
const maven = await startMavenUpstream(t);
const images = ociImages();
const registry = await startRegistryWithImages(t, images);
const nowhere = 'http://127.0.0.1:9/';

// A signature of library/busybox:1.0 on the upstream, as cosign and oras push one.
const signature = await signOnRegistry(registry.url, 'library/busybox', '1.0');
const repositories = (up: boolean) => [
  // Packuments are revalidated after 2 s, so a version published upstream is seen soon after.
  { key: 'npm-remote', format: 'npm', type: 'remote', url: up ? verdaccio.url : nowhere, metadataTtlSeconds: 2 },
  { key: 'npm', format: 'npm', type: 'virtual', members: ['npm-remote'] },
  { key: 'pypi-remote', format: 'pypi', type: 'remote', url: up ? `${pypi.url}simple/` : nowhere },
  { key: 'maven-remote', format: 'maven', type: 'remote', url: up ? maven.url : nowhere },
  { key: 'docker-remote', format: 'docker', type: 'remote', url: up ? registry.url : nowhere },
  { key: 'files-remote', format: 'generic', type: 'remote', url: up ? pypi.url : nowhere },
];
const a = await startShelf({ repositories: repositories(true) });
const b = await startShelf({ repositories: repositories(false) });
t.teardown(() => a.stop());
t.teardown(() => b.stop());

/** The CLI as the side's operator runs it; asynchronously, since Shelf A answers the seed from this process. */
async function cli(side: typeof a, extra: Record<string, unknown>, ...args: string[]) {
  const config = join(root, `${side === a ? 'a' : 'b'}-${Math.random()}.yaml`);
  writeFileSync(config, stringify({ storage: side.storage, repositories: repositories(side === a), logging: { level: 'warn' }, ...extra }));
  const result = await runTool(process.execPath, ['dist/cli/main.js', ...args, '--config', config], { PATH: process.env.PATH });
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}
const seed = (list: string, ...args: string[]) => cli(a, {}, 'seed', '--url', a.url, '--list', join(root, list), ...args);
const input = (name: string, text: string) => {
  const file = join(root, name);
  writeFileSync(file, text);
  return file;
};

// Lockfiles as the builds have them, made against the upstream itself.
const { pnpm, yarn } = packageManagers();
const project = new ClientProject(verdaccio.url, { name: 'air', version: '1.0.0', private: true, dependencies: { 'shelf-fix-a': '1.0.0', '@shelf/scoped': '2.0.0' } });
t.teardown(() => project.remove());
for (const [tool, args] of [
  ['npm', ['install', '--package-lock-only']],
  [pnpm, ['install', '--lockfile-only', '--store-dir', join(root, 'pnpm-store')]],
  [yarn, ['install', '--non-interactive', '--ignore-scripts']],
] as const) {
  const made = await project.run(tool, [...args]);
  if (made.code !== 0) throw new Error(`${tool}: ${made.stderr}`);
}
const lockfiles = ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'].map((name) => join(project.dir, name));

const wheelHash = (name: string) => createHash('sha256').update(readFileSync(join(pypiFixtures(), 'dists', name))).digest('hex');
const requirements = input(
  'requirements.txt',
  [
    `shelf-fix-a==1.0.0 --hash=sha256:${wheelHash('shelf_fix_a-1.0.0-py3-none-any.whl')}`,
    `shelf-fix-b==2.0.0 \\\n    --hash=sha256:${wheelHash('shelf_fix_b-2.0.0-py3-none-any.whl')}`,
  ].join('\n'),
);
// One version of a package that has six.
const oneOfMany = input('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/shelf-fix-many': { version: '1.0.0' } } }));
const lists = ['npm.json', 'pypi.json', 'maven.json', 'docker.json', 'files.json'].map((name) => join(root, name));

t.test('shelf seed pulls what each input names through A, and lists it', async (t) => {
  const npmSeed = await seed('npm.json', '--repository', 'npm', ...[...lockfiles, oneOfMany].flatMap((file) => ['--lockfile', file]));
  t.equal(npmSeed.status, 0, npmSeed.stderr);
  t.match(npmSeed.stdout, /seeded 5 of 5 items through npm: 10 files/, 'the three lockfiles name the same four versions: each is fetched once');
  const pypiSeed = await seed('pypi.json', '--repository', 'pypi-remote', '--requirements', requirements);
  t.equal(pypiSeed.status, 0, pypiSeed.stderr);
  t.match(pypiSeed.stdout, /seeded 2 of 2 items/);
  const sample = mavenProject(t, `${a.url}/maven-remote/`);
  const plugin = input('coordinates.txt', 'org.apache.maven.plugins:maven-dependency-plugin:3.5.0@maven-plugin\n');
  const mavenSeed = await seed('maven.json', '--repository', 'maven-remote', '--pom', join(sample.dir, 'pom.xml'), '--goals', 'package', '--coordinates', plugin);
  t.equal(mavenSeed.status, 0, mavenSeed.stderr);
  t.match(mavenSeed.stdout, /seeded 2 of 2 items/);
  const dockerSeed = await seed('docker.json', '--repository', 'docker-remote', '--images', input('images.txt', `# what the builds pull\nlibrary/busybox:1.0\n${registry.address}/multi/arch:1.0\n`));
  t.equal(dockerSeed.status, 0, dockerSeed.stderr);
  const oneArch = await seed('arm64.json', '--repository', 'docker-remote', '--images', input('multi.txt', 'multi/arch:1.0\n'), '--platform', 'linux/arm64');
  t.equal(oneArch.status, 0, oneArch.stderr);
  const manifestsOf = (file: string) => (JSON.parse(readFileSync(join(root, file), 'utf8')) as { repositories: Record<string, string[]> }).repositories['docker-remote']!.filter((p) => p.startsWith('multi/arch/_manifests/'));
  t.equal(manifestsOf('docker.json').length, 3, 'all platforms: the index and both images');
  const dockerList = (JSON.parse(readFileSync(join(root, 'docker.json'), 'utf8')) as { repositories: Record<string, string[]> }).repositories['docker-remote']!;
  t.ok(dockerList.includes(`library/busybox/_manifests/${signature.digest}`), "the image's signature (a referrer) is seeded");
  t.equal(manifestsOf('arm64.json').length, 2, '--platform linux/arm64: the index and that image');
  const filesSeed = await seed('files.json', '--repository', 'files-remote', '--paths', input('paths.txt', 'packages/shelf_fix_norm-0.1.0.tar.gz\n'));
  t.equal(filesSeed.status, 0, filesSeed.stderr);

  const npmList = JSON.parse(readFileSync(lists[0]!, 'utf8')) as { repositories: Record<string, string[]> };
  t.ok(npmList.repositories.npm!.includes('shelf-fix-c/-/shelf-fix-c-1.0.0.tgz'), 'a transitive dependency is seeded');
  t.ok(npmList.repositories.npm!.includes('@shelf/scoped/-/scoped-2.0.0.tgz'));
  const pypiList = JSON.parse(readFileSync(lists[1]!, 'utf8')) as { repositories: Record<string, string[]> };
  t.notOk(pypiList.repositories['pypi-remote']!.some((path) => path.endsWith('.tar.gz')), 'hash pins: exactly the hashed files');
});

t.test('a second run resumes: nothing is fetched again', async (t) => {
  const before = (await verdaccio.requests('/-/')).length;
  const again = await seed('npm.json', '--repository', 'npm', ...[...lockfiles, oneOfMany].flatMap((file) => ['--lockfile', file]));
  t.equal(again.status, 0, again.stderr);
  t.equal((await verdaccio.requests('/-/')).length, before, 'no tarball is fetched from the upstream again');
});

t.test('failures are named, and the exit status says so', async (t) => {
  const result = await seed('bad.json', '--repository', 'npm', '--lockfile', input('bad-package-lock.json', JSON.stringify({
    lockfileVersion: 3,
    packages: { '': {}, 'node_modules/shelf-fix-c': { version: '9.9.9' }, 'node_modules/no-such-package': { version: '1.0.0' }, 'node_modules/shelf-fix-b': { version: '1.0.0' } },
  })));
  t.equal(result.status, 1);
  t.match(result.stdout, /seeded 1 of 3 items/);
  t.match(result.stderr, /could not get shelf-fix-c@9\.9\.9: shelf-fix-c has no version 9\.9\.9 in npm/);
  t.match(result.stderr, /could not get no-such-package@1\.0\.0: .*404/);
  const wrongFormat = await seed('wrong.json', '--repository', 'npm', '--requirements', requirements);
  t.equal(wrongFormat.status, 1);
  t.match(wrongFormat.stderr, /npm is a npm repository; --requirements seed other formats/);
});

t.test('export --seed on A, import on B: every client installs with no network', async (t) => {
  const keys = await cli(a, {}, 'keys', 'create');
  t.equal(keys.status, 0, keys.stderr);
  const trust = { bundles: { trustedKeys: [input('a.pub', keys.stdout)] } };
  // Metadata that lists more than was seeded: the upstream's tag list and maven-metadata.xml, cached on A.
  await skopeo('list-tags', '--tls-verify=false', `docker://${a.url.replace('http://', '')}/docker-remote/library/busybox`);
  t.equal((await fetch(`${a.url}/maven-remote/org/apache/maven/plugins/maven-dependency-plugin/maven-metadata.xml`)).status, 200);
  const extra = input('extra.json', JSON.stringify({
    format: 'shelf-seed/1',
    repositories: { 'docker-remote': ['library/busybox/_taglist.json'], 'maven-remote': ['org/apache/maven/plugins/maven-dependency-plugin/maven-metadata.xml'] },
    failed: [],
  }));
  const out = join(root, 'bundle');
  const exported = await cli(a, {}, 'export', '--seed', [...lists, extra].join(','), '--out', out);
  t.equal(exported.status, 0, exported.stderr);
  const imported = await cli(b, trust, 'import', out);
  t.equal(imported.status, 0, imported.stderr);
  // Nothing left to reach: the clients can only get what B holds.
  await verdaccio.stop();

  const npmB = `${b.url}/npm/`;
  for (const [tool, command] of [
    ['npm', ['ci']],
    [pnpm, ['install', '--frozen-lockfile', '--store-dir', join(root, 'pnpm-store-b')]],
  ] as const) {
    const consumer = new ClientProject(npmB, JSON.parse(readFileSync(join(project.dir, 'package.json'), 'utf8')) as Record<string, unknown>, ['replace-registry-host=always']);
    t.teardown(() => consumer.remove());
    cpSync(join(project.dir, tool === 'npm' ? 'package-lock.json' : 'pnpm-lock.yaml'), join(consumer.dir, tool === 'npm' ? 'package-lock.json' : 'pnpm-lock.yaml'));
    const installed = await consumer.run(tool, [...command]);
    t.equal(installed.code, 0, `${tool}: ${installed.stdout}\n${installed.stderr}`);
    const required = await consumer.run('node', ['-e', 'console.log(require("shelf-fix-a"), require("@shelf/scoped"))']);
    t.equal(required.stdout.trim(), 'shelf-fix-a@1.0.0 @shelf/scoped@2.0.0', tool);
  }

  const env = pythonEnv(t);
  const pip = await env.pip(`${b.url}/pypi-remote/simple/`, 'install', '--require-hashes', '-r', requirements);
  t.equal(pip.code, 0, `${pip.stdout}\n${pip.stderr}`);

  const sample = mavenProject(t, `${b.url}/maven-remote/`);
  const built = await sample.mvn('package');
  t.equal(built.code, 0, built.stdout.slice(-3000));

  for (const [image, layout] of [['library/busybox:1.0', 'small:1.0'], ['multi/arch:1.0', 'multi:1.0']]) {
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${b.url.replace('http://', '')}/docker-remote/${image}`);
    t.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, await layoutDigest(images, layout), `${image}: A's digest`);
    const copied = join(root, `copy-${layout.replace(':', '-')}`);
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${b.url.replace('http://', '')}/docker-remote/${image}`, `oci:${copied}:x`);
    t.ok(readdirSync(join(copied, 'blobs', 'sha256')).length > 2, `${image}: copied with all its blobs`);
  }
  t.equal((await fetch(`${b.url}/files-remote/packages/shelf_fix_norm-0.1.0.tar.gz`)).status, 200);
  const referrers = await fetch(`${b.url}/v2/docker-remote/library/busybox/referrers/${signature.subject}`);
  t.equal(referrers.status, 200);
  t.same(((await referrers.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [signature.digest], 'B lists the signature');
  t.equal((await fetch(`${b.url}/v2/docker-remote/library/busybox/manifests/${signature.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
});

t.test('on B, metadata lists only what is there, and what is not there is named as not available offline', async (t) => {
  const viewer = new ClientProject(`${b.url}/npm/`);
  t.teardown(() => viewer.remove());
  const versions = await viewer.npm('view', 'shelf-fix-many', 'versions', '--json');
  t.same(JSON.parse(versions.stdout), ['1.0.0'], 'the packument lists the seeded version only');
  const missing = await viewer.npm('install', 'shelf-fix-many@0.1.0');
  t.not(missing.code, 0);
  t.match(missing.stderr, /No matching version found for shelf-fix-many@0\.1\.0/);
  const unknown = await fetch(`${b.url}/npm/shelf-fix-tool`);
  t.equal(unknown.status, 404);
  t.match(await unknown.text(), /\.npm\/shelf-fix-tool\/package\.json is not available offline: it is not cached in npm-remote/);

  const tags = JSON.parse(await skopeo('list-tags', '--tls-verify=false', `docker://${b.url.replace('http://', '')}/docker-remote/library/busybox`)) as { Tags: string[] };
  // 1.0 and the signature's fallback tag were seeded; 1.1 and latest were not.
  t.same(tags.Tags, ['1.0', `sha256-${signature.subject.slice('sha256:'.length)}`], 'the tag list names the tags B holds, not those it lacks');
  const metadata = await (await fetch(`${b.url}/maven-remote/org/apache/maven/plugins/maven-dependency-plugin/maven-metadata.xml`)).text();
  t.match(metadata, '<version>3.5.0</version>');
  t.notMatch(metadata, '<version>2.8</version>', 'maven-metadata.xml lists the version B holds');

  const env = pythonEnv(t);
  const pip = await env.pip(`${b.url}/pypi-remote/simple/`, 'install', 'shelf-fix-b==1.0.0');
  t.not(pip.code, 0);
  t.match(pip.stderr, /No matching distribution found for shelf-fix-b==1\.0\.0/);
  const page = (await (await fetch(`${b.url}/pypi-remote/simple/shelf-fix-b/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { filename: string }[] };
  t.same(page.files.map((f) => f.filename), ['shelf_fix_b-2.0.0-py3-none-any.whl'], 'the project page lists the seeded file only');
});

t.test("B's credentials are its own: a token and the token-signing key of A mean nothing there", async (t) => {
  const made = await fetch(`${a.url}/api/security/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('shelf:shelf').toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ description: 'a-only' }),
  });
  t.equal(made.status, 201);
  const { token } = (await made.json()) as { token: string };
  t.equal((await fetch(`${a.url}/files-remote/packages/shelf_fix_norm-0.1.0.tar.gz`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  t.equal((await fetch(`${b.url}/files-remote/packages/shelf_fix_norm-0.1.0.tar.gz`, { headers: { authorization: `Bearer ${token}` } })).status, 401, "A's token is refused on B");
  const key = (side: typeof a) => readFileSync(join(side.dataDir, 'security', 'jwt.key'), 'utf8');
  t.not(key(a), key(b), 'each side signs its registry tokens with its own key');
});

t.test('a new version on the upstream: the next incremental bundle carries exactly the difference', async (t) => {
  await verdaccio.start();
  await publishPackage(t, verdaccio.url, 'shelf-fix-c', '1.1.0');
  await sleep(2100); // A's cached packument expires
  const lock = input('next-lock.json', JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/shelf-fix-c': { version: '1.1.0' } } }));
  const seeded = await seed('next.json', '--repository', 'npm', '--lockfile', lock);
  t.equal(seeded.status, 0, seeded.stderr);
  const next = join(root, 'next.tar');
  const exported = await cli(a, {}, 'export', '--seed', join(root, 'next.json'), '--after', join(root, 'bundle'), '--out', next);
  t.equal(exported.status, 0, exported.stderr);
  t.match(exported.stdout, /bundle .*: 2 records, 2 blobs, \d+ bytes, after /, 'the new tarball and the changed packument');
  const imported = await cli(b, { bundles: { trustedKeys: [join(root, 'a.pub')] } }, 'import', next);
  t.equal(imported.status, 0, imported.stderr);
  await verdaccio.stop();
  const viewer = new ClientProject(`${b.url}/npm/`);
  t.teardown(() => viewer.remove());
  const versions = await viewer.npm('view', 'shelf-fix-c', 'versions', '--json');
  t.same(JSON.parse(versions.stdout), ['1.0.0', '1.1.0']);
});
