import { existsSync, mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readSeedList, SeedJournal } from '../../src/seed/seed-list.js';

const dir = mkdtempSync(join(tmpdir(), 'shelf-seed-list-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a journal resumes an interrupted run; a clean run leaves only the list', async (t) => {
  const file = join(dir, 'seed.json');
  const first = await SeedJournal.open(file);
  await first.record('npm', 'a@1.0.0', ['a/-/a-1.0.0.tgz', '.npm/a/package.json']);
  appendFileSync(`${file}.journal`, '{"repo":"npm","item":"b@'); // the interruption cut this line short

  const resumed = await SeedJournal.open(file);
  t.equal(resumed.resumed, 1);
  t.ok(resumed.finished('npm', 'a@1.0.0'));
  t.notOk(resumed.finished('npm', 'b@1.0.0'), 'a cut line runs again');
  await resumed.record('npm', 'b@1.0.0', ['b/-/b-1.0.0.tgz', '.npm/a/package.json']);
  const list = await resumed.close([]);
  t.same(list.repositories, { npm: ['.npm/a/package.json', 'a/-/a-1.0.0.tgz', 'b/-/b-1.0.0.tgz'] });
  t.same(await readSeedList(file), list);
  t.notOk(existsSync(`${file}.journal`), 'a clean run drops its journal');
});

t.test('after failures the journal stays, so a second run retries only those', async (t) => {
  const file = join(dir, 'partial.json');
  const journal = await SeedJournal.open(file);
  await journal.record('pypi', 'x==1', ['packages/x/x-1.whl']);
  await journal.close([{ repo: 'pypi', item: 'y==2', error: '404' }]);
  t.ok(existsSync(`${file}.journal`));
  t.ok((await SeedJournal.open(file)).finished('pypi', 'x==1'));
  t.match(readFileSync(file, 'utf8'), /"item": "y==2"/);
  await t.rejects(readSeedList(join(dir, 'missing.json')), /no seed list at/);
});
