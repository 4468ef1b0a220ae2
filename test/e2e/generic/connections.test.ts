import { get as httpGet } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startShelf, startShelfProcess } from '../../helpers/shelf.js';

// Sockets are bounded: slow headers are cut off, connections per worker are capped, and a worker that
// stops answering (here: stopped with SIGSTOP) is replaced by the primary.

const repositories = [{ key: 'files', format: 'generic', type: 'local', allowRedeploy: true }];

/** Resolves when the server closes the socket (with what it sent), or after `waitMs` with `closed: false`. */
function closedByServer(socket: Socket, waitMs: number): Promise<{ closed: boolean; received: string }> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, received }), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
  });
}

const open = (url: string) => {
  const { hostname, port } = new URL(url);
  return new Promise<Socket>((resolve) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
  });
};

t.test('slow headers are cut off, and connections per worker are capped', async (t) => {
  const shelf = await startShelf({ server: { headersTimeoutSeconds: 1, maxConnectionsPerWorker: 10 }, repositories });
  t.teardown(() => shelf.stop());

  const slow = await open(shelf.url);
  slow.write('GET /-/healthz HTTP/1.1\r\nHost: shelf\r\n');
  const drip = setInterval(() => slow.write(`X-Drip-${Date.now()}: 1\r\n`), 200);
  const outcome = await closedByServer(slow, 15_000);
  clearInterval(drip);
  t.ok(outcome.closed, 'a connection still sending headers after the timeout is closed');
  t.notMatch(outcome.received, /200 OK/);

  const idle = await Promise.all(Array.from({ length: 10 }, () => open(shelf.url)));
  const extra = await open(shelf.url);
  extra.write('GET /-/healthz HTTP/1.1\r\nHost: shelf\r\n\r\n');
  const refused = await closedByServer(extra, 15_000);
  t.ok(refused.closed, 'a connection past the cap is closed');
  t.equal(refused.received, '', 'without an answer');
  idle.forEach((socket) => socket.destroy());
  await sleep(100);
  t.equal((await fetch(`${shelf.url}/-/healthz`)).status, 200, 'once connections close, new ones are served');
});

t.test('the primary replaces a worker that stops answering', async (t) => {
  const shelf = await startShelfProcess({ server: { workerHealthCheckSeconds: 1 }, repositories }, 2);
  t.teardown(() => shelf.stop());
  for (let i = 0; i < 10 && shelf.workerPids().length < 2; i++) {
    await fetch(`${shelf.url}/-/healthz`, { signal: AbortSignal.timeout(10_000) });
    await sleep(100);
  }
  const [stuck] = shelf.workerPids();
  t.ok(stuck, 'a worker to stop');
  process.kill(stuck!, 'SIGSTOP');
  for (let i = 0; i < 100 && !shelf.output().includes('stopped answering health checks'); i++) await sleep(100);
  t.match(shelf.output(), /stopped answering health checks/, 'the primary noticed');
  for (let i = 0; i < 600 && (shelf.output().match(/worker ready/g) ?? []).length < 3; i++) await sleep(100);
  t.equal((shelf.output().match(/worker ready/g) ?? []).length, 3, 'and started another');
  const statuses = await Promise.all(
    Array.from({ length: 20 }, () => fetch(`${shelf.url}/-/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status)),
  );
  t.same([...new Set(statuses)], [200], 'every request is served');
  let gone = false;
  try {
    process.kill(stuck!, 0);
  } catch {
    gone = true;
  }
  t.ok(gone, 'the stopped worker was killed');
});

t.test('killing workers under load strands no connection: every request is answered or refused, none hangs', async (t) => {
  const shelf = await startShelfProcess({ repositories }, 2);
  t.teardown(() => shelf.stop());
  for (let i = 0; i < 600 && (shelf.output().match(/worker ready/g) ?? []).length < 2; i++) await sleep(100);
  const outcomes = { answered: 0, refused: 0, hung: 0 };
  const once = () =>
    new Promise<void>((resolve) => {
      // A connection of its own each time, so that every request is handed over anew.
      const req = httpGet(`${shelf.url}/-/healthz`, { agent: false, timeout: 15_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          outcomes.answered++;
          resolve();
        });
        res.on('error', () => {
          outcomes.refused++;
          resolve();
        });
      });
      req.on('timeout', () => {
        outcomes.hung++;
        req.destroy();
      });
      req.on('error', () => {
        if (!req.destroyed || outcomes.hung === 0) outcomes.refused++;
        resolve();
      });
    });
  let running = true;
  const clients = Array.from({ length: 8 }, async () => {
    while (running) await once();
  });
  for (let kill = 0; kill < 3; kill++) {
    await sleep(700);
    const before = (shelf.output().match(/worker ready/g) ?? []).length;
    const victim = shelf.workerPids().find((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    if (victim) process.kill(victim, 'SIGKILL');
    for (let i = 0; i < 300 && (shelf.output().match(/worker ready/g) ?? []).length <= before; i++) await sleep(100);
  }
  await sleep(700);
  running = false;
  await Promise.all(clients);
  t.comment(`answered ${outcomes.answered}, refused ${outcomes.refused}, hung ${outcomes.hung}`);
  t.equal(outcomes.hung, 0, 'no request waited for ever on a connection nobody serves');
  t.ok(outcomes.answered > 100, 'the service kept answering');
});
