import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenerName } from '../cluster/connection-balancer.js';
import { createSecureContext } from 'node:tls';
import type { ShelfApp } from '../app.js';
import type { ShelfConfig, TlsConfig } from '../config/schema.js';
import { closeGracefully, openConnections, trackConnections } from './graceful-close.js';

type ConnectionLimits = Pick<ShelfConfig['server'], 'headersTimeoutSeconds' | 'idleTimeoutSeconds' | 'maxConnectionsPerWorker'>;

const DEFAULT_LIMITS: ConnectionLimits = { headersTimeoutSeconds: 30, idleTimeoutSeconds: 300, maxConnectionsPerWorker: 4096 };

/**
 * Socket limits. No request timeout (a 10 GiB upload may take hours), but a headers timeout, which must be
 * set on its own: Node derives its default from the request timeout, so `requestTimeout: 0` would turn it
 * off. Node checks both only every `connectionsCheckingInterval`, so that follows the headers timeout.
 */
function serverOptions(limits: ConnectionLimits) {
  const headersTimeout = limits.headersTimeoutSeconds * 1000;
  return {
    requestTimeout: 0,
    headersTimeout,
    connectionsCheckingInterval: Math.min(5000, Math.max(250, headersTimeout / 4)),
    keepAliveTimeout: 65_000,
  };
}

/** The socket limits, and the connection tracking that a graceful close needs. */
function prepare<T extends Server>(server: T, limits: ConnectionLimits): T {
  server.maxConnections = limits.maxConnectionsPerWorker;
  server.setTimeout(limits.idleTimeoutSeconds * 1000);
  trackConnections(server);
  return server;
}

/** An HTTP server for `handler` with the socket limits, not yet bound. */
const httpServer = (handler: RequestListener, limits: ConnectionLimits) => prepare(createServer(serverOptions(limits), handler), limits);

export async function listen(
  app: ShelfApp,
  host: string,
  port: number,
  handler: RequestListener = app.handle,
  limits: ConnectionLimits = DEFAULT_LIMITS,
): Promise<Server> {
  return bind(httpServer(handler, limits), host, port);
}

async function bind<T extends Server>(server: T, host: string, port: number): Promise<T> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export const boundPort = (server: Server) => (server.address() as AddressInfo).port;

/** What one serving process listens on: HTTP, and HTTPS when configured. */
export interface Listeners {
  servers: Server[];
  /** Reads the certificate and key files again (on SIGHUP), for connections made from now on. */
  reloadTls(): Promise<void>;
  /** Takes a connection that the primary accepted for the named listener (cluster mode). */
  accept(listener: ListenerName, socket: Socket): void;
  /** Stops taking connections, lets in-flight requests finish within the grace period, then cuts the rest. */
  close(graceSeconds: number): Promise<void>;
}

/** The certificate and key, read and checked to belong together (a mismatch throws here, not per connection). */
export async function readKeyPair(tls: TlsConfig): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    const pair = { cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) };
    createSecureContext(pair);
    return pair;
  } catch (err) {
    throw new Error(`server.tls: cannot use ${tls.certFile} with ${tls.keyFile}: ${(err as Error).message}`);
  }
}

/**
 * The HTTP listener and, with `server.tls`, an HTTPS one beside it: HTTPS answers carry HSTS, and with
 * `redirectHttp` every plain-HTTP request but the health and metrics probes is redirected to HTTPS.
 * `handedOver`: a cluster worker, whose connections the primary accepts and hands over (see
 * cluster/connection-balancer.ts); its servers then bind nothing and take sockets through `accept`.
 */
export async function startListeners(app: ShelfApp, server: ShelfConfig['server'], handedOver = false): Promise<Listeners> {
  const tls = server.tls;
  const plain = httpServer(tls?.redirectHttp ? redirectToHttps(app, tls.port) : app.handle, server);
  const byName = new Map<ListenerName, Server>([['http', plain]]);
  let reloadTls = async (): Promise<void> => undefined;
  if (tls) {
    const hsts = tls.hstsMaxAgeSeconds > 0 ? `max-age=${tls.hstsMaxAgeSeconds}` : undefined;
    const secure = createHttpsServer({ ...serverOptions(server), ...(await readKeyPair(tls)) }, (req, res) => {
      if (hsts) res.setHeader('strict-transport-security', hsts);
      app.handle(req, res);
    });
    byName.set('https', prepare(secure, server));
    reloadTls = async () => secure.setSecureContext(await readKeyPair(tls));
  }
  const servers = [...byName.values()];
  if (!handedOver) {
    if (tls) await bind(byName.get('https')!, server.host, tls.port);
    await bind(plain, server.host, server.port);
    return { servers, reloadTls, accept: (_listener, socket) => socket.destroy(), close: (grace) => closeGracefully(servers, grace) };
  }
  // Node starts its headers-timeout checks when a server starts listening; these never bind, so start them.
  for (const s of servers) s.emit('listening');
  let closing = false;
  return {
    servers,
    reloadTls,
    accept(listener, socket) {
      const target = byName.get(listener);
      if (!target || closing || openConnections(servers) >= server.maxConnectionsPerWorker) {
        socket.destroy();
        return;
      }
      target.emit('connection', socket);
      socket.resume();
    },
    close(graceSeconds) {
      closing = true;
      return closeGracefully(servers, graceSeconds);
    },
  };
}

/** 308 (method and body kept) to the same path on the HTTPS port; probes stay on HTTP for load balancers. */
function redirectToHttps(app: ShelfApp, tlsPort: number): RequestListener {
  return (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/-/')) return app.handle(req, res);
    const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
    res.writeHead(308, { location: `https://${host}${tlsPort === 443 ? '' : `:${tlsPort}`}${url}`, 'content-length': 0 }).end();
  };
}
