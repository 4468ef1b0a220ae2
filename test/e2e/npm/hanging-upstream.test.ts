import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ClientProject, startFront, startVerdaccio } from '../../helpers/npm-harness.js';
import { startShelf } from '../../helpers/shelf.js';

// An upstream that accepts connections and never answers must not stall a build whose packages are all
// cached: tarballs are served without revalidating their packuments, and an expired packument waits at most
// revalidateWaitMs before the cached copy is served (STALE) while the revalidation goes on.

const upstream = await startVerdaccio(t);
let hanging = false;
const held: Socket[] = [];
// Once hanging, the front accepts requests and never answers them.
const frontUrl = await startFront(t, upstream.port, (req) => hanging && held.push(req.socket) > 0);

const shelf = await startShelf({
  repositories: [
    { key: 'npm-local', format: 'npm', type: 'local' },
    { key: 'npm-remote', format: 'npm', type: 'remote', url: frontUrl, metadataTtlSeconds: 1, readTimeoutMs: 60_000 },
    { key: 'npm', format: 'npm', type: 'virtual', members: ['npm-local', 'npm-remote'], defaultDeployRepo: 'npm-local' },
  ],
});
t.teardown(() => shelf.stop());

t.test('npm ci of a cached project through the virtual works while the upstream hangs', async (t) => {
  // The client gives up on any request after 10 s, as a CI job with a timeout would.
  const project = new ClientProject(`${shelf.url}/npm/`, undefined, ['fetch-timeout=10000', 'fetch-retries=0']);
  t.teardown(() => project.remove());
  const installed = await project.npm('install', 'shelf-fix-a', '@shelf/scoped');
  t.equal(installed.code, 0, installed.stderr);

  hanging = true;
  await sleep(1500); // every cached packument is now expired
  const ci = await project.npm('ci', '--prefer-online');
  t.equal(ci.code, 0, `npm ci succeeds: ${ci.stderr}`);
  const view = await project.npm('view', 'shelf-fix-a', 'version');
  t.equal(view.code, 0, `npm view reads the expired packument: ${view.stderr}`);
  t.ok(held.length > 0, 'the upstream was asked (and hung)');
  const packument = await fetch(`${shelf.url}/npm/shelf-fix-a`);
  t.equal(packument.status, 200);
  t.equal(packument.headers.get('x-shelf-cache'), 'STALE', 'the expired packument is served stale');
});
