import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ShelfApp, openStorage, storagePaths } from '../app.js';
import { ensureInitialAdmin, INITIAL_ADMIN } from '../security/initial-admin.js';
import type { BlobStore } from '../storage/blob-store.js';
import { FlightHub } from '../cluster/flight-hub.js';
import { WorkerFlightCoordinator } from '../cluster/worker-flights.js';
import type { ShelfConfig } from '../config/schema.js';
import { unconfiguredRepositories } from '../config/load.js';
import { LocalFlightCoordinator } from '../repos/flights.js';
import { scheduleLifecycleJobs } from '../lifecycle/scheduler.js';
import { readKeyPair, startListeners, type Listeners } from './http-server.js';
import { ConnectionBalancer, type ConnectionMessage } from '../cluster/connection-balancer.js';
import { SystemdNotifier } from './systemd-notify.js';
import { markNodeStart } from '../cluster/node-heartbeat.js';
import type { Socket } from 'node:net';

type MetricsMessage =
  | { shelf: 'metrics'; op: 'get'; id: number }
  | { shelf: 'metrics'; op: 'text'; id: number; text: string };
type ShutdownMessage = { shelf: 'shutdown' };
type ReloadTlsMessage = { shelf: 'reload-tls' };
/** Logrotate moved the audit log away: write to a new file at its path. */
type ReopenLogsMessage = { shelf: 'reopen-logs' };
/** The primary's health check of a worker, answered only when the worker's loop runs and it can open a file. */
type HealthMessage = { shelf: 'health'; op: 'ping' | 'pong' };
/** A worker's listeners are up: the primary may hand it connections. */
type ReadyMessage = { shelf: 'ready' };

const isMessage = <T extends { shelf: string }>(kind: T['shelf']) => (m: unknown): m is T =>
  typeof m === 'object' && m !== null && (m as { shelf?: unknown }).shelf === kind;
const isMetricsMessage = isMessage<MetricsMessage>('metrics');
const isShutdownMessage = isMessage<ShutdownMessage>('shutdown');
const isReloadTlsMessage = isMessage<ReloadTlsMessage>('reload-tls');
const isReopenLogsMessage = isMessage<ReopenLogsMessage>('reopen-logs');
const isHealthMessage = isMessage<HealthMessage>('health');
const isReadyMessage = isMessage<ReadyMessage>('ready');
const isConnectionMessage = isMessage<ConnectionMessage>('connection');

/** Answers the primary's health check if this process can still open a file (EMFILE stops accepting too). */
async function answerHealthCheck(send: (message: object) => void): Promise<void> {
  try {
    await (await open('/dev/null', 'r')).close();
    send({ shelf: 'health', op: 'pong' } satisfies HealthMessage);
  } catch {
    // No answer: the primary replaces a worker that misses three checks.
  }
}

/** Reloads the TLS certificate and key, logging the outcome; a bad file keeps the old pair in service. */
function reloadTls(listeners: Listeners, log: Logger): void {
  listeners
    .reloadTls()
    .then(() => log.info('reloaded the TLS certificate and key'))
    .catch((err: unknown) => log.error({ err }, 'could not reload the TLS certificate and key; the old ones stay in use'));
}

/** Runs Shelf: one process when `server.workers` is 1, otherwise a primary and N cluster workers. */
export async function serve(config: ShelfConfig, log: Logger): Promise<void> {
  const workers = config.server.workers || availableParallelism();
  if (cluster.isWorker) return runWorker(config, log);
  markNodeStart();
  for (const { key, variables } of unconfiguredRepositories(config)) {
    log.warn({ repo: key, variables }, `repository ${key} is not configured: its url needs the environment variable ${variables.join(' or ')}`);
  }
  const blobs = await prepareStorage(config, log);
  // A missing or mismatched certificate stops the start here, once, instead of every worker failing in turn.
  if (config.server.tls) await readKeyPair(config.server.tls);
  if (workers === 1) return runSingleProcess(config, log);
  return runPrimary(config, log, workers, blobs);
}

/**
 * Start-up work that must happen before any writer runs: migrations, removal of interrupted writes, and on
 * the first start the initial administrator.
 */
async function prepareStorage(config: ShelfConfig, log: Logger): Promise<BlobStore> {
  const { blobs, index } = await openStorage(config);
  const removed = await blobs.removeTempFiles();
  if (removed > 0) log.warn({ removed }, 'removed temp files left by interrupted writes');
  const admin = await ensureInitialAdmin(index, config.security);
  await index.close();
  if (admin?.generatedPassword) await announceGeneratedPassword(config, admin.generatedPassword, log);
  else if (admin) log.info({ user: INITIAL_ADMIN }, 'created the initial administrator with the configured password');
  return blobs;
}

/**
 * The generated password goes to a file only Shelf's user can read, and to the terminal when there is one;
 * never into a log line, since logs are collected and kept.
 */
async function announceGeneratedPassword(config: ShelfConfig, password: string, log: Logger): Promise<void> {
  const file = join(storagePaths(config).dataDir, 'security', 'initial-admin-password');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  log.warn({ user: INITIAL_ADMIN, passwordFile: file }, 'created the initial administrator; its generated password is in passwordFile');
  if (process.stdout.isTTY) {
    process.stdout.write(`\nShelf's initial administrator: user "${INITIAL_ADMIN}", password ${password}\n(shown once; also in ${file})\n\n`);
  }
}

async function runSingleProcess(config: ShelfConfig, log: Logger): Promise<void> {
  const app = await ShelfApp.create({ config, log, flights: new LocalFlightCoordinator() });
  const listeners = await startListeners(app, config.server);
  log.info({ host: config.server.host, port: config.server.port, tlsPort: config.server.tls?.port, workers: 1 }, 'shelf listening');
  const scheduler = scheduleLifecycleJobs(config, log);
  process.on('SIGHUP', () => {
    reloadTls(listeners, log);
    app.reopenLogs();
  });
  process.on('SIGUSR2', () => app.reopenLogs());
  const systemd = new SystemdNotifier();
  systemd.ready('serving (one process)');
  const stop = async () => {
    systemd.stopping();
    log.info('shutting down');
    scheduler.stop();
    await listeners.close(config.server.shutdownGraceSeconds);
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
}

async function runWorker(config: ShelfConfig, log: Logger): Promise<void> {
  const send = (message: object) => process.send?.(message);
  const flights = new WorkerFlightCoordinator(send);
  const pendingMetrics = new Map<number, (text: string) => void>();
  let nextId = 1;
  const app = await ShelfApp.create({
    config,
    log,
    flights,
    metricsText: () =>
      new Promise((resolve) => {
        const id = nextId++;
        pendingMetrics.set(id, resolve);
        send({ shelf: 'metrics', op: 'get', id });
      }),
  });
  // Constructing an AggregatorRegistry in a worker installs prom-client's reply to the primary's scrape.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([app.metrics.registry]);
  const listeners = await startListeners(app, config.server, true);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await listeners.close(config.server.shutdownGraceSeconds);
    await app.close();
    process.exit(0);
  };
  process.on('message', (message: unknown, socket?: Socket) => {
    if (isConnectionMessage(message) && socket) return listeners.accept(message.listener, socket);
    flights.onMessage(message);
    if (isMetricsMessage(message) && message.op === 'text') {
      pendingMetrics.get(message.id)?.(message.text);
      pendingMetrics.delete(message.id);
    }
    if (isShutdownMessage(message)) void stop();
    if (isReloadTlsMessage(message)) reloadTls(listeners, log);
    if (isReopenLogsMessage(message)) app.reopenLogs();
    if (isHealthMessage(message) && message.op === 'ping') void answerHealthCheck(send);
  });
  // The primary coordinates shutdown and reloads; a signal sent to the whole process group is left to it.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'] as const) process.on(signal, () => undefined);
  send({ shelf: 'ready' } satisfies ReadyMessage);
  log.info({ worker: cluster.worker?.id }, 'worker ready');
}

async function runPrimary(config: ShelfConfig, log: Logger, workers: number, blobs: BlobStore): Promise<void> {
  const balancer = new ConnectionBalancer();
  await balancer.listen('http', config.server.host, config.server.port);
  if (config.server.tls) await balancer.listen('https', config.server.host, config.server.tls.port);
  const aggregator = new AggregatorRegistry();
  const hub = new FlightHub((workerId, message) => cluster.workers?.[workerId]?.send(message));
  let stopping = false;

  /** When each serving worker last answered a health check (or became ready: a starting one is not checked). */
  const answeredAt = new Map<number, number>();
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => onWorkerMessage(worker, message));
  };
  const systemd = new SystemdNotifier();
  let startedWorkers = 0;
  const onWorkerMessage = (worker: Worker, message: unknown) => {
    hub.onMessage(worker.id, message);
    if (isReadyMessage(message)) {
      answeredAt.set(worker.id, Date.now());
      balancer.addWorker(worker);
      // Ready for systemd once every first worker serves; a replaced worker later changes nothing.
      if (++startedWorkers === workers) systemd.ready(`serving with ${workers} workers`);
    }
    if (isHealthMessage(message) && message.op === 'pong') answeredAt.set(worker.id, Date.now());
    if (isMetricsMessage(message) && message.op === 'get') {
      aggregator
        .clusterMetrics()
        .then((text) => worker.send({ shelf: 'metrics', op: 'text', id: message.id, text }))
        .catch((err: unknown) => {
          log.error({ err }, 'metrics aggregation failed');
          worker.send({ shelf: 'metrics', op: 'text', id: message.id, text: '' });
        });
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    hub.onWorkerExit(worker.id);
    balancer.removeWorker(worker);
    answeredAt.delete(worker.id);
    const pid = worker.process.pid;
    if (pid !== undefined) {
      blobs
        .removeTempFiles(pid)
        .catch((err: unknown) => log.error({ err, pid }, 'could not remove a dead worker\'s temp files'));
    }
    if (stopping) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 500);
  });
  for (let i = 0; i < workers; i++) fork();
  // A worker can be alive yet serve nothing (a stuck loop, no file descriptors left): it is replaced.
  const checkEvery = config.server.workerHealthCheckSeconds * 1000;
  setInterval(() => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (!worker || stopping || !answeredAt.has(worker.id)) continue;
      if (Date.now() - answeredAt.get(worker.id)! > 3 * checkEvery) {
        log.error({ worker: worker.process.pid }, 'worker stopped answering health checks (stuck, or out of file descriptors); replacing it');
        answeredAt.delete(worker.id);
        balancer.removeWorker(worker);
        worker.process.kill('SIGKILL');
        continue;
      }
      worker.send({ shelf: 'health', op: 'ping' } satisfies HealthMessage);
    }
  }, checkEvery).unref();
  log.info({ host: config.server.host, port: config.server.port, tlsPort: config.server.tls?.port, workers }, 'shelf listening');
  const tellWorkers = (message: ReloadTlsMessage | ReopenLogsMessage) => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send(message);
  };
  process.on('SIGHUP', () => {
    tellWorkers({ shelf: 'reload-tls' });
    tellWorkers({ shelf: 'reopen-logs' });
  });
  process.on('SIGUSR2', () => tellWorkers({ shelf: 'reopen-logs' }));

  const scheduler = scheduleLifecycleJobs(config, log);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    systemd.stopping();
    scheduler.stop();
    balancer.close();
    log.info('shutting down workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ shelf: 'shutdown' });
    const deadline = setTimeout(() => process.exit(1), (config.server.shutdownGraceSeconds + 5) * 1000);
    deadline.unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
}
