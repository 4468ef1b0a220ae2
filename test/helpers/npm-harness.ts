import { execFile, execFileSync } from 'node:child_process';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { runTool, type ToolResult } from './run-tool.js';

const HARNESS = new URL('../harness/npm/', import.meta.url).pathname;
const run = promisify(execFile);

/**
 * A Verdaccio storage with the fixture packages published into it by the real npm client (see
 * publish-fixtures.sh), built once per machine and copied by every test that starts an upstream.
 */
export function npmFixtureStorage(): string {
  const template = join(tmpdir(), 'shelf-test-npm-fixtures');
  execFileSync('bash', [join(HARNESS, 'fixture-storage.sh'), template, '8'], { stdio: 'pipe' });
  return join(template, 'storage');
}

/** Verdaccio 6.8 on loopback, offline, seeded with the fixtures; its JSON log counts the requests it served. */
export class VerdaccioUpstream {
  readonly dir = mkdtempSync(join(tmpdir(), 'shelf-verdaccio-'));
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get storage(): string {
    return join(this.dir, 'storage');
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    if (!existsSync(this.storage)) cpSync(npmFixtureStorage(), this.storage, { recursive: true });
    await run('bash', [join(HARNESS, 'verdaccio.sh'), 'start', this.dir, String(this.port)]);
  }

  async stop(): Promise<void> {
    await run('bash', [join(HARNESS, 'verdaccio.sh'), 'stop', this.dir, String(this.port)]);
  }

  private logLines(): Record<string, any>[] {
    const log = join(this.dir, 'verdaccio.log');
    if (!existsSync(log)) return [];
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
  }

  /** Waits until Verdaccio has written its log lines for the requests made so far. */
  async settle(): Promise<void> {
    let last = -1;
    for (;;) {
      const length = this.logLines().length;
      if (length === last) return;
      last = length;
      await sleep(250);
    }
  }

  /**
   * Requests received, `METHOD URL`, whose URL contains `fragment` (Verdaccio logs one "requested" line
   * when a request arrives, and its outcome once or twice, so the arrivals are what is counted).
   */
  async requests(fragment: string): Promise<string[]> {
    await this.settle();
    return this.logLines()
      .filter((entry) => entry.req && typeof entry.msg === 'string' && entry.msg.includes(' requested '))
      .map((entry) => `${entry.req.method} ${entry.req.url}`)
      .filter((line) => line.split(' ')[1]!.includes(fragment));
  }

  /** The statuses Verdaccio logged for URLs containing `fragment` (each request is logged once or twice). */
  async statuses(fragment: string): Promise<number[]> {
    await this.settle();
    return this.logLines()
      .filter((entry) => entry.request && entry.request.url.includes(fragment))
      .map((entry) => entry.status as number);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A front before an upstream on loopback: `intercept` may answer a request itself (returning true); the
 * rest is passed through. Its URL ends with a slash, like a registry URL.
 */
export async function startFront(
  t: { teardown(fn: () => unknown): void },
  upstreamPort: number,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
): Promise<string> {
  const front = createServer((req, res) => {
    if (intercept(req, res)) return;
    const proxied = request({ host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    front.closeAllConnections();
    return new Promise<void>((resolve) => front.close(() => resolve()));
  });
  return `http://127.0.0.1:${(front.address() as { port: number }).port}/`;
}

export async function startVerdaccio(t: { teardown(fn: () => unknown): void }): Promise<VerdaccioUpstream> {
  const upstream = new VerdaccioUpstream();
  t.teardown(() => upstream.close());
  await upstream.start();
  return upstream;
}

/**
 * A project directory for a package manager, isolated from the machine's own npm configuration: its
 * own user config, cache and store, and `registry` set to the Shelf URL under test.
 */
export class ClientProject {
  private readonly root = mkdtempSync(join(tmpdir(), 'shelf-npm-client-'));
  /** The project itself; the client's config, cache and HOME live beside it, so a publish never packs them. */
  readonly dir = join(this.root, 'project');

  constructor(
    readonly registry: string,
    packageJson: Record<string, unknown> = { name: 'shelf-client-project', version: '1.0.0', private: true },
    npmrc: string[] = [],
  ) {
    const host = registry.replace(/^https?:/, '');
    mkdirSync(this.dir);
    writeFileSync(join(this.dir, 'package.json'), JSON.stringify(packageJson, null, 2));
    writeFileSync(
      join(this.root, 'npmrc'),
      [`registry=${registry}`,
        // The test user's login, unless the test gives its own (or none: `auth: null`).
        ...(npmrc.some((line) => line.includes(':_auth')) ? [] : [`${host}:_auth=${Buffer.from('shelf:shelf').toString('base64')}`]), 'audit=false', 'fund=false', 'update-notifier=false',
        // npm retries failed fetches with back-off of 10 s and more; the tests expect failures quickly.
        'fetch-retry-mintimeout=200', 'fetch-retry-maxtimeout=1000', ...npmrc].join('\n'),
    );
    mkdirSync(join(this.root, 'home'));
  }

  /** Runs `tool` (npm, or a pnpm/yarn binary) in the project with a fresh HOME, so no other config applies. */
  async run(tool: string, args: string[]): Promise<ToolResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: join(this.root, 'home'),
      npm_config_userconfig: join(this.root, 'npmrc'),
      npm_config_cache: join(this.root, 'cache'),
      YARN_CACHE_FOLDER: join(this.root, 'yarn-cache'),
    };
    return runTool(tool, args, env, this.dir);
  }

  npm(...args: string[]): Promise<ToolResult> {
    return this.run('npm', args);
  }

  file(path: string): string {
    return readFileSync(join(this.dir, path), 'utf8');
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** pnpm and yarn (v1), installed from the npm registry once per machine. */
export function packageManagers(): { pnpm: string; yarn: string } {
  const dir = join(tmpdir(), 'shelf-test-package-managers');
  execFileSync(
    'flock',
    [`${dir}.lock`, 'bash', '-c', `[ -x "$1/node_modules/.bin/pnpm" ] || npm install --prefix "$1" --no-audit --no-fund pnpm@10 yarn@1 >/dev/null 2>&1`, '_', dir],
    { stdio: 'pipe' },
  );
  return { pnpm: join(dir, 'node_modules/.bin/pnpm'), yarn: join(dir, 'node_modules/.bin/yarn') };
}

/**
 * Publishes `name@version` (an index.js exporting the version) to `registry` with the real npm client;
 * `args` go to `npm publish` (`--tag`). Throws with npm's output when it fails.
 */
export async function publishPackage(
  t: { teardown(fn: () => unknown): void },
  registry: string,
  name: string,
  version: string,
  ...args: string[]
): Promise<void> {
  const project = new ClientProject(registry, { name, version, license: 'MIT' });
  t.teardown(() => project.remove());
  writeFileSync(join(project.dir, 'index.js'), `module.exports = '${version}';\n`);
  const published = await project.npm('publish', ...args);
  if (published.code !== 0) throw new Error(published.stderr);
}
