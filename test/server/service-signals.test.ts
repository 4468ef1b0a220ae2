import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startShelfProcess } from '../helpers/shelf.js';

/** What a `Type=notify` unit and logrotate rely on, checked against `shelf serve` with its workers. */
const dir = mkdtempSync(join(tmpdir(), 'shelf-notify-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Receiver {
  bind(path: string): void;
  close(): void;
}
const unix = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener: (buf: Buffer) => void): Receiver;
};
const messages: string[] = [];
const socketPath = join(dir, 'notify.sock');
const receiver = unix.createSocket('unix_dgram', (buf) => messages.push(buf.toString()));
receiver.bind(socketPath);
t.teardown(() => receiver.close());

process.env.NOTIFY_SOCKET = socketPath;
const shelf = await startShelfProcess({ repositories: [{ key: 'files', format: 'generic', type: 'local' }] }, 2);
delete process.env.NOTIFY_SOCKET;
t.teardown(() => shelf.stop());

async function until(what: () => boolean, description: string): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await sleep(50);
  if (!what()) throw new Error(`timed out waiting for ${description}; got ${JSON.stringify(messages)}`);
}

t.test('READY=1 comes from the main process once the workers serve', async (t) => {
  await until(() => messages.some((m) => m.includes('READY=1')), 'READY=1');
  const ready = messages.find((m) => m.includes('READY=1'))!;
  t.match(ready, `MAINPID=${shelf.child.pid}`);
  t.match(ready, 'STATUS=serving with 2 workers');
  t.equal(messages.filter((m) => m.includes('READY=1')).length, 1, 'once');
  t.equal((await fetch(`${shelf.url}/files/a.txt`, { method: 'PUT', body: 'a' })).status, 201, 'it serves when it says so');
});

t.test('SIGUSR2 makes every worker write the audit log at its path again, after logrotate moved it', async (t) => {
  const audit = shelf.auditLog;
  await until(() => existsSync(audit) && readFileSync(audit, 'utf8').includes('a.txt'), 'the first audit line');
  renameSync(audit, `${audit}.1`);
  shelf.child.kill('SIGUSR2');
  await sleep(500);
  // Enough writes that both workers (connections are balanced between them) record one.
  for (let i = 0; i < 8; i++) t.equal((await fetch(`${shelf.url}/files/b${i}.txt`, { method: 'PUT', body: 'b' })).status, 201);
  const lines = () => (existsSync(audit) ? readFileSync(audit, 'utf8').match(/"path":"b\d\.txt"/g) ?? [] : []);
  for (let i = 0; i < 100 && lines().length < 8; i++) await sleep(50);
  t.equal(lines().length, 8, `new file: ${existsSync(audit) ? readFileSync(audit, 'utf8') : 'none'}`);
  t.notMatch(readFileSync(`${audit}.1`, 'utf8'), /b\d\.txt/, 'nothing more went to the rotated file');
});

t.test('STOPPING=1 when it stops', async (t) => {
  const exited = new Promise((resolve) => shelf.child.once('exit', resolve));
  shelf.child.kill('SIGTERM');
  await exited;
  t.ok(messages.some((m) => m === 'STOPPING=1'), JSON.stringify(messages));
});
