import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ClientProject, packageManagers, startVerdaccio } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

/** pnpm and yarn v1, as installed from npm, through local, remote and virtual repositories. */
const tools = packageManagers();
const upstream = await startVerdaccio(t);
const shelf = await startShelf({
  repositories: [
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'npm-remote', format: 'npm', type: 'remote', url: upstream.url },
    { key: 'npm', format: 'npm', type: 'virtual', members: ['npm-local', 'npm-remote'], defaultDeployRepo: 'npm-local' },
  ],
});
t.teardown(() => shelf.stop());

const publisher = new ClientProject(`${shelf.url}/npm-local/`, { name: '@team/hosted', version: '1.2.3', main: 'index.js', license: 'MIT' });
t.teardown(() => publisher.remove());
writeFileSync(join(publisher.dir, 'index.js'), 'module.exports = "@team/hosted@1.2.3";\n');
const published = await publisher.npm('publish');
if (published.code !== 0) throw new Error(published.stderr);

/** The command line of each package manager for adding packages from one registry, with its own store. */
const add: Record<string, (p: ClientProject, registry: string, packages: string[]) => string[]> = {
  pnpm: (p, registry, packages) => ['add', ...packages, '--registry', registry, '--store-dir', join(p.dir, '..', 'pnpm-store')],
  yarn: (_p, registry, packages) => ['add', ...packages, '--registry', registry, '--non-interactive'],
};

const cases: [string, string[], string][] = [
  ['npm-local', ['@team/hosted'], '@team/hosted@1.2.3'],
  ['npm-remote', ['shelf-fix-a', '@shelf/scoped'], 'shelf-fix-a@1.0.0 @shelf/scoped@2.0.0'],
  ['npm', ['@team/hosted', 'shelf-fix-a', 'shelf-fix-many@next'], '@team/hosted@1.2.3 shelf-fix-a@1.0.0 shelf-fix-many@2.0.0-beta.1'],
];

for (const [tool, bin] of Object.entries(tools)) {
  for (const [repo, packages, expected] of cases) {
    t.test(`${tool} installs ${packages.join(' ')} from ${repo}`, async (t) => {
      const registry = `${shelf.url}/${repo}/`;
      const p = new ClientProject(registry);
      t.teardown(() => p.remove());
      const result = await p.run(bin, add[tool]!(p, registry, packages));
      t.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      const names = packages.map((spec) => spec.replace(/(.)@.*$/, '$1'));
      const required = await p.run('node', ['-e', `console.log(${names.map((n) => `require(${JSON.stringify(n)})`).join(', ')})`]);
      t.equal(required.stdout.trim(), expected);
      const lockfile = tool === 'pnpm' ? 'pnpm-lock.yaml' : 'yarn.lock';
      t.notMatch(p.file(lockfile), upstream.url.replace(/\/$/, ''), 'the lockfile never names the upstream');
      if (tool === 'yarn') t.match(p.file('yarn.lock'), `${shelf.url}/${repo}/`, 'yarn records Shelf tarball URLs');
    });
  }
}
