import t from 'tap';
import { FlightHub } from '../../src/cluster/flight-hub.js';
import type { FlightMessage } from '../../src/cluster/flight-messages.js';
import { WorkerFlightCoordinator } from '../../src/cluster/worker-flights.js';
import { LocalFlightCoordinator } from '../../src/repos/flights.js';

t.test('in one process: the first caller leads, the rest follow its events', async (t) => {
  const flights = new LocalFlightCoordinator();
  const a = await flights.join('k');
  const b = await flights.join('k');
  t.ok(a.leader);
  t.notOk(b.leader);
  t.equal(a.flight, b.flight);
  flights.publish('k', { type: 'streaming', tempPath: '/tmp/x', contentType: 'a/b' });
  t.match(await b.flight.head, { type: 'streaming' });
  flights.publish('k', { type: 'stored', sha256: 'f'.repeat(64), size: 3 });
  t.match(await b.flight.end, { type: 'stored', size: 3 });
  t.ok((await flights.join('k')).leader, 'after the end, the next caller leads a new flight');
});

/** Two workers wired to one hub as the cluster does over IPC (delivery is asynchronous there too). */
function cluster() {
  const workers = new Map<number, WorkerFlightCoordinator>();
  const hub = new FlightHub((id, message) => setImmediate(() => workers.get(id)!.onMessage(message)));
  for (const id of [1, 2]) {
    workers.set(id, new WorkerFlightCoordinator((message: FlightMessage) => setImmediate(() => hub.onMessage(id, message))));
  }
  return { hub, w1: workers.get(1)!, w2: workers.get(2)! };
}

t.test('across workers: one leader, events relayed, late joiners replayed', async (t) => {
  const { w1, w2 } = cluster();
  const [a, b] = await Promise.all([w1.join('k'), w2.join('k')]);
  t.equal([a, b].filter((x) => x.leader).length, 1, 'exactly one leader across the cluster');
  const [leaderWorker, leader, follower] = a.leader ? [w1, a, b] : [w2, b, a];
  leaderWorker.publish('k', { type: 'streaming', tempPath: '/tmp/y', contentType: 'c/d', size: 9 });
  t.match(await follower.flight.head, { type: 'streaming', size: 9 });
  const sameWorker = await leaderWorker.join('k');
  t.notOk(sameWorker.leader);
  t.equal(sameWorker.flight, leader.flight, 'requests in one worker share its flight');
  leaderWorker.publish('k', { type: 'notFound' });
  t.match(await follower.flight.end, { type: 'notFound' });
});

t.test('a leader that dies fails its followers', async (t) => {
  const { hub, w1, w2 } = cluster();
  const a = await w1.join('k');
  t.ok(a.leader);
  const b = await w2.join('k');
  hub.onWorkerExit(1);
  t.match(await b.flight.end, { type: 'failed', error: { status: 502 } });
});
