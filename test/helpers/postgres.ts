import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort } from './ports.js';

const HARNESS = join(import.meta.dirname, '..', 'harness', 'postgres.sh');

/** Debian's PostgreSQL in a temporary directory (test/harness/postgres.sh). `.ci/run` installs `postgresql`. */
export interface RunningPostgres {
  port: number;
  /** A new, empty database; its connection string. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown: connections are cut), keeping its data. */
  stop(): void;
  start(): void;
  /** Stops it and removes its directory. */
  destroy(): void;
}

/** Why PostgreSQL tests cannot run here, if they cannot. */
export function postgresMissing(): string | false {
  const root = '/usr/lib/postgresql';
  const installed = existsSync(root) && readdirSync(root).some((version) => existsSync(join(root, version, 'bin', 'pg_ctl')));
  return installed ? false : 'PostgreSQL is not installed (apt-get install -y postgresql)';
}

export async function startPostgres(): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-pg-'));
  const harness = (...args: string[]) => execFileSync(HARNESS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  harness('init', dir);
  const port = await freePort();
  // Stopped by the harness if this process dies before its teardown.
  harness('start', dir, String(port), String(process.pid));
  let databases = 0;
  return {
    port,
    async createDatabase() {
      const name = `shelf_${++databases}`;
      harness('createdb', dir, String(port), name);
      return `postgres://shelf@127.0.0.1:${port}/${name}`;
    },
    stop: () => harness('stop', dir),
    start: () => harness('start', dir, String(port), String(process.pid)),
    destroy() {
      try {
        harness('stop', dir);
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * PostgreSQL for a test file: started, and destroyed when the file ends; undefined where it is not
 * installed, with the file skipped and the reason given.
 */
export async function postgresFor(t: Test): Promise<RunningPostgres | undefined> {
  const missing = postgresMissing();
  if (missing) {
    t.skip(missing);
    return undefined;
  }
  const server = await startPostgres();
  t.teardown(() => server.destroy());
  return server;
}
