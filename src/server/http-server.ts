import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ShelfApp } from '../app.js';

export async function listen(app: ShelfApp, host: string, port: number): Promise<Server> {
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, app.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export const boundPort = (server: Server) => (server.address() as AddressInfo).port;

/** Stops accepting connections, lets in-flight requests finish within the grace period, then cuts the rest. */
export async function closeGracefully(server: Server, graceSeconds: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceSeconds * 1000);
  await closed;
  clearTimeout(timer);
}
