import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { ShelfApp, storagePaths } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { Identity } from '../../src/security/identity.js';
import { LocalFlightCoordinator } from '../../src/repos/flights.js';
import { boundPort, listen } from '../../src/server/http-server.js';
import { closeGracefully } from '../../src/server/graceful-close.js';
import { freePort } from './ports.js';
import { startPostgres, type RunningPostgres } from './postgres.js';
import { startS3, type RunningS3 } from './s3.js';

export interface RunningShelf {
  url: string;
  dataDir: string;
  /** The config's storage section, for a CLI config beside this Shelf (the same data and index). */
  storage: Record<string, unknown>;
  /** Where this Shelf writes its audit trail. */
  auditLog: string;
  stop(): Promise<void>;
}

/**
 * Tests of everything but security run with every action open to anonymous callers, and with a user
 * `shelf` (password `shelf`) for clients that insist on sending credentials; a test that gives `security`
 * gets exactly what it gives (and no user).
 */
export const TEST_USER = { name: 'shelf', password: 'shelf' };
export const OPEN_SECURITY = {
  permissions: [{ name: 'open-for-tests', repositories: ['ANY'], anonymous: ['read', 'write', 'delete', 'annotate', 'manage'] }],
};

let testPostgres: Promise<RunningPostgres> | undefined;
let testS3: Promise<RunningS3 & { destroy(): void }> | undefined;

/**
 * A storage section as tests run it: with SHELF_TEST_INDEX=postgres, every Shelf a test starts keeps its index
 * in a PostgreSQL database of its own, and with SHELF_TEST_BLOBS=s3 its blobs in a bucket of its own on a
 * RADOS gateway (one server per test file, removed when the file ends), so any suite runs against either
 * index and either blob store. A test that prepares a data directory with the CLI before starting Shelf
 * takes the section from here first.
 */
export async function testStorage(storage: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  let result = storage;
  if (process.env.SHELF_TEST_INDEX === 'postgres' && !storage.index) {
    testPostgres ??= startOnce(startPostgres);
    result = { ...result, index: { type: 'postgres', url: await (await testPostgres).createDatabase() } };
  }
  if (process.env.SHELF_TEST_BLOBS === 's3' && !storage.blobs) {
    testS3 ??= startOnce(startS3);
    result = { ...result, blobs: (await testS3).blobsConfig() };
  }
  return result;
}

/** A server shared by the test file's Shelfs, destroyed when the file's process exits. */
async function startOnce<T extends { destroy(): void }>(start: () => Promise<T>): Promise<T> {
  const server = await start();
  process.once('exit', () => server.destroy());
  return server;
}

/** Shelf in this process (one worker), on a free port with a fresh data directory. */
export async function startShelf(raw: Record<string, unknown>): Promise<RunningShelf & { app: ShelfApp }> {
  const storage = (await testStorage(raw.storage as Record<string, unknown>)) as { dataDir?: string };
  const dataDir = storage.dataDir ?? mkdtempSync(join(tmpdir(), 'shelf-test-'));
  const config = validateConfig({
    ...raw,
    server: { host: '127.0.0.1', port: 0, workers: 1, ...(raw.server as object) },
    storage: { ...storage, dataDir },
    logging: { level: process.env.SHELF_TEST_LOG ?? 'silent' },
    security: raw.security ?? OPEN_SECURITY,
  });
  const app = await ShelfApp.create({ config, log: createLogger(config.logging.level), flights: new LocalFlightCoordinator() });
  if (raw.security === undefined) await new Identity(app.index).addUser(TEST_USER);
  const server: Server = await listen(app, '127.0.0.1', 0, app.handle, config.server);
  return {
    app,
    url: `http://127.0.0.1:${boundPort(server)}`,
    dataDir,
    storage: { ...storage, dataDir },
    auditLog: storagePaths(config).auditLog,
    async stop() {
      await closeGracefully([server], 1);
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ShelfProcess extends RunningShelf {
  child: ChildProcess;
  output(): string;
  /** Worker process ids, from the `/-/metrics` label-free way: the log lines' pid field. */
  workerPids(): number[];
}

/**
 * Shelf as operators run it: `shelf serve` as a child process, with its cluster of workers. `baseDir` may
 * hold a data directory prepared beforehand (`<baseDir>/data`), and is kept when it stops; `maxOpenFiles`
 * starts it under that `ulimit -n`.
 */
export async function startShelfProcess(
  raw: Record<string, unknown>,
  workers: number,
  options: { baseDir?: string; maxOpenFiles?: number } = {},
): Promise<ShelfProcess> {
  const dataDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'shelf-test-'));
  const storage = await testStorage(raw.storage as Record<string, unknown>);
  const port = await freePort();
  const configFile = join(dataDir, 'shelf.yaml');
  writeFileSync(
    configFile,
    stringify({
      ...raw,
      server: { host: '127.0.0.1', port, workers, shutdownGraceSeconds: 5, ...(raw.server as object) },
      // A data directory the caller names (nodes sharing one) wins over the one beside the config.
      storage: { dataDir: join(dataDir, 'data'), ...storage },
      logging: { level: 'info' },
      security: raw.security ?? OPEN_SECURITY,
    }),
  );
  if (raw.security === undefined) {
    execFileSync(process.execPath, ['dist/cli/main.js', 'user', 'add', TEST_USER.name, '--password-stdin', '--config', configFile], {
      input: TEST_USER.password,
    });
  }
  const serve = [process.execPath, 'dist/cli/main.js', 'serve', '--config', configFile];
  const child = options.maxOpenFiles
    ? spawn('sh', ['-c', `ulimit -n ${options.maxOpenFiles} && exec "$@"`, 'sh', ...serve], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(serve[0]!, serve.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, () => output);
  return {
    url,
    dataDir,
    storage: { dataDir: join(dataDir, 'data'), ...storage },
    auditLog: storagePaths(validateConfig(parse(readFileSync(configFile, 'utf8')))).auditLog,
    child,
    output: () => output,
    workerPids: () => workerPidsFrom(output, child.pid!),
    async stop() {
      // Not yet exited (a process a test killed has a signalCode and no exitCode).
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        // A graceful stop waits for in-flight requests; a test must not hang on one that never ends.
        const hard = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(hard);
      }
      // A directory the caller gave is the caller's to remove (it may start Shelf on it again).
      if (!options.baseDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitForHealthy(url: string, output: () => string): Promise<void> {
  // Generous: on a loaded CI machine (two test files at once) workers can take many seconds to start.
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/-/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`shelf did not become healthy:\n${output()}`);
}

function workerPidsFrom(output: string, primaryPid: number): number[] {
  const pids = new Set<number>();
  for (const line of output.split('\n')) {
    const match = /"pid":(\d+)/.exec(line);
    if (match && Number(match[1]) !== primaryPid) pids.add(Number(match[1]));
  }
  return [...pids];
}
