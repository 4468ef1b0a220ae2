import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startShelfProcess } from '../../helpers/shelf.js';

// The schedule fires in one process of the cluster only (the primary), and the garbage goes by itself.
const shelf = await startShelfProcess(
  { repositories: [{ key: 'files', format: 'generic', type: 'local' }], storage: { gc: { schedule: '*/2 * * * * *', graceSeconds: 0 } } },
  2,
);
t.teardown(() => shelf.stop());

t.test("a deleted file's blob is collected on schedule, by the primary alone", async (t) => {
  const body = 'collected on schedule';
  const hex = createHash('sha256').update(body).digest('hex');
  const blob = join(shelf.dataDir, 'data', 'blobs', 'sha256', hex.slice(0, 2), hex);
  t.equal((await fetch(`${shelf.url}/files/doomed.txt`, { method: 'PUT', body })).status, 201);
  t.ok(existsSync(blob));
  t.equal((await fetch(`${shelf.url}/files/doomed.txt`, { method: 'DELETE' })).status, 204);
  for (let i = 0; i < 100 && existsSync(blob); i++) await sleep(100);
  t.notOk(existsSync(blob), 'the scheduled run removed it');
  await sleep(4500);
  const runs = shelf
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"garbage collection done"'))
    .map((line) => (JSON.parse(line) as { pid: number }).pid);
  t.ok(runs.length >= 2, `${runs.length} scheduled runs`);
  t.same([...new Set(runs)], [shelf.child.pid], 'every run in the primary, none in a worker');
  t.notMatch(shelf.output(), /scheduled garbage collection failed/);
});
