import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

/**
 * Debian's PostgreSQL in a temporary directory, on a loopback port, as an unprivileged user (PostgreSQL
 * refuses to run as root): `initdb` and `pg_ctl`, no system service. `.ci/run` installs `postgresql`.
 */
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

/** The newest installed PostgreSQL's programs, if any. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

/** Why PostgreSQL tests cannot run here, if they cannot. */
export const postgresMissing = (): string | false => (postgresBin() ? false : 'PostgreSQL is not installed (apt-get install -y postgresql)');

export async function startPostgres(): Promise<RunningPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'shelf-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  // As root, the server runs as Debian's `postgres` user (made by the package), or as `nobody`.
  const user = asRoot ? (hasUser('postgres') ? 'postgres' : 'nobody') : undefined;
  if (user) chownSync(dir, Number(execFileSync('id', ['-u', user]).toString()), Number(execFileSync('id', ['-g', user]).toString()));
  const run = (program: string, args: string[]) =>
    execFileSync(user ? 'runuser' : join(bin, program), user ? ['-u', user, '--', join(bin, program), ...args] : args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
    });
  run('initdb', ['-D', data, '-U', 'shelf', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`;
  const start = () => run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  let databases = 0;
  const url = (database: string) => `postgres://shelf@127.0.0.1:${port}/${database}`;
  return {
    port,
    async createDatabase() {
      const name = `shelf_${++databases}`;
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      return url(name);
    },
    stop,
    start,
    destroy() {
      try {
        stop();
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function hasUser(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
