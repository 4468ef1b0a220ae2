import { connect } from 'node:net';
import t from 'tap';
import { startShelf } from '../helpers/shelf.js';

const shelf = await startShelf({
  server: { maxUploadBytes: 1024 * 1024 },
  repositories: [{ key: 'files', format: 'generic', type: 'local' }],
});
t.teardown(() => shelf.stop());

/**
 * Sends a whole declared body before reading the answer, as a busy client does (npm's publish): the refusal
 * must reach it, never a connection reset that hides the reason (a reset discards what the client had not
 * yet read).
 */
function putWhole(path: string, bytes: number, chunked = false): Promise<string> {
  const { hostname, port } = new URL(shelf.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n\r\n')) {
        resolve(answer.split('\r\n')[0]!);
        socket.destroy();
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(answer.split('\r\n')[0] || err.code || err.message));
    socket.on('end', () => resolve(answer.split('\r\n')[0]!));
    const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${bytes}`;
    socket.write(`PUT ${path} HTTP/1.1\r\nhost: ${hostname}\r\n${framing}\r\n\r\n`);
    const data = Buffer.alloc(256 * 1024, 1);
    const chunk = chunked ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data;
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += data.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      if (chunked) socket.write('0\r\n\r\n');
      // Everything is written (or the server stopped taking it): only now read the answer.
      socket.resume();
    };
    pump();
    socket.setTimeout(5000, () => socket.resume());
  });
}

t.test('a client sending a body over the limit reads the 413', async (t) => {
  for (const size of [8, 40]) {
    const answers = new Set<string>();
    for (let i = 0; i < 10; i++) answers.add(await putWhole(`/files/big-${size}-${i}.bin`, size * 1024 * 1024));
    t.same([...answers], ['HTTP/1.1 413 Payload Too Large'], `${size} MiB bodies`);
  }
  t.equal((await fetch(`${shelf.url}/files/big-8-0.bin`)).status, 404);
});

t.test('so does one sending a chunked body over the limit', async (t) => {
  const answers = new Set<string>();
  for (let i = 0; i < 10; i++) answers.add(await putWhole(`/files/chunked-${i}.bin`, 8 * 1024 * 1024, true));
  t.same([...answers], ['HTTP/1.1 413 Payload Too Large']);
  t.equal((await fetch(`${shelf.url}/files/chunked-0.bin`)).status, 404);
});
