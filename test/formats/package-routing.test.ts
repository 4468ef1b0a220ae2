import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { npmRules } from '../../src/formats/npm/npm-rules.js';
import { leafMembers, loadPackageMembers } from '../../src/formats/package-routing.js';
import { LocalFlightCoordinator } from '../../src/repos/flights.js';
import { RepositoryRegistry } from '../../src/repos/repository-registry.js';
import { BlobStore } from '../../src/storage/blob-store.js';
import { SqliteIndex } from '../../src/storage/sqlite-index.js';

const dir = mkdtempSync(join(tmpdir(), 'shelf-routing-'));
const index = new SqliteIndex(join(dir, 'index.sqlite'));
t.teardown(async () => {
  await index.close();
  rmSync(dir, { recursive: true, force: true });
});
const blobs = BlobStore.onDisk(join(dir, 'blobs'));
await blobs.init();
const config = validateConfig({
  repositories: [
    { key: 'hosted', format: 'npm', type: 'local' },
    { key: 'team', format: 'npm', type: 'local' },
    { key: 'mirror-a', format: 'npm', type: 'remote', url: 'http://127.0.0.1:9/' },
    { key: 'mirror-b', format: 'npm', type: 'remote', url: 'http://127.0.0.1:9/' },
    { key: 'inner', format: 'npm', type: 'virtual', members: ['team', 'mirror-b'] },
    {
      key: 'outer',
      format: 'npm',
      type: 'virtual',
      members: ['hosted', 'mirror-a', 'inner'],
      packageRoutes: [{ packages: ['@corp/**'], members: ['hosted'] }],
    },
  ],
});
const repos = new RepositoryRegistry(config.repositories, npmRules, {
  blobs,
  index,
  flights: new LocalFlightCoordinator(),
  log: pino({ level: 'silent' }),
  upstreamObserver: { response() {}, bytes() {}, failure() {} },
});
t.teardown(() => repos.close());
const keys = (list: { key: string }[]) => list.map((r) => r.key);
const outer = repos.get('outer')!;

t.test('leaf members: nested virtual repositories flattened in order, routes applied', async (t) => {
  t.same(keys(leafMembers(outer, 'left-pad')), ['hosted', 'mirror-a', 'team', 'mirror-b']);
  t.same(keys(leafMembers(outer, '@corp/secret')), ['hosted'], 'a routed scope sees only its members');
  t.same(keys(leafMembers(outer)), ['hosted', 'mirror-a', 'team', 'mirror-b'], 'without a name: every leaf');
  t.same(keys(leafMembers(repos.get('team')!, 'x')), ['team']);
});

t.test('a package that a local member holds is never loaded from a remote member', async (t) => {
  const asked: string[] = [];
  const found = await loadPackageMembers(outer, 'shared', async (member) => {
    asked.push(member.key);
    return member.key === 'team' || member.key === 'mirror-a' ? member.key : undefined;
  });
  t.same(found.map((f) => f.value), ['team']);
  t.same(asked, ['hosted', 'team'], 'remote members were not even asked');
});

t.test('remote members in order; a failing one is skipped unless nothing is found', async (t) => {
  const found = await loadPackageMembers(outer, 'public', async (member) => {
    if (member.key === 'mirror-a') throw new Error('upstream down');
    return member.key === 'mirror-b' ? 'b' : undefined;
  });
  t.same(found.map((f) => f.repo.key), ['mirror-b']);
  await t.rejects(
    loadPackageMembers(outer, 'public', async (member) => {
      if (member.key === 'mirror-a') throw new Error('upstream down');
      return undefined;
    }),
    /upstream down/,
  );
  t.same(await loadPackageMembers(outer, 'nowhere', async () => undefined), []);
});
