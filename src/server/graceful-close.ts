import { Server as NetServer, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/*
 * A graceful close that lets every response reach the client. Node's `closeIdleConnections` (which
 * `http.Server.close()` also calls) counts a response as done once `end()` is called, and destroys its socket
 * with up to a chunk still in the socket's buffer: a slow reader got a short body. Here a server's responses
 * count as in flight until their 'close' (after the last byte went to the kernel), and idle connections are
 * cut only while none is.
 */

interface ConnectionState {
  sockets: Set<Socket>;
  inFlight: number;
  closing: boolean;
}

const states = new WeakMap<Server, ConnectionState>();

/** Starts counting `server`'s connections and responses; call before it takes any. */
export function trackConnections(server: Server): void {
  const state: ConnectionState = { sockets: new Set(), inFlight: 0, closing: false };
  states.set(server, state);
  server.on('connection', (socket: Socket) => {
    state.sockets.add(socket);
    socket.once('close', () => state.sockets.delete(socket));
  });
  // First, so that the header is set before the handler can send its head.
  server.prependListener('request', (_req, res) => {
    state.inFlight++;
    // While closing, a keep-alive client is told to take its next request elsewhere.
    if (state.closing) res.setHeader('connection', 'close');
    res.once('close', () => state.inFlight--);
  });
}

/** How many connections the servers (tracked by trackConnections) have open. */
export const openConnections = (servers: Server[]) => servers.reduce((sum, server) => sum + states.get(server)!.sockets.size, 0);

/** Stops taking connections, lets in-flight responses finish within the grace period, then cuts the rest. */
export async function closeGracefully(servers: Server[], graceSeconds: number): Promise<void> {
  const tracked = servers.map((server) => ({ server, state: states.get(server)! }));
  for (const { server, state } of tracked) {
    state.closing = true;
    // Only stop listening: http.Server.close() would also cut the connections it wrongly deems idle.
    if (server.listening) NetServer.prototype.close.call(server);
  }
  const deadline = Date.now() + graceSeconds * 1000;
  while (tracked.some(({ state }) => state.sockets.size > 0) && Date.now() < deadline) {
    for (const { server, state } of tracked) if (state.inFlight === 0) server.closeIdleConnections();
    await sleep(50);
  }
  for (const { server, state } of tracked) {
    for (const socket of state.sockets) socket.destroy();
    // Also stops Node's connection-checking timer.
    server.close();
  }
}
