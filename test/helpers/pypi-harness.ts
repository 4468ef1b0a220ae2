import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxUpstream } from './nginx-upstream.js';
import { runTool as run, type ToolResult } from './run-tool.js';

const HARNESS = new URL('../harness/pypi/', import.meta.url).pathname;

/**
 * Real wheels and sdists made by make-dists.py (a dependency chain, a name that needs normalization, a
 * Requires-Python constraint, an 8 MiB wheel) with a PEP 503 index over them, built once per machine;
 * `uploads/` holds a project that is in no index, for twine.
 */
export function pypiFixtures(): string {
  const dir = join(tmpdir(), 'shelf-test-pypi-fixtures');
  execFileSync('bash', [join(HARNESS, 'fixtures.sh'), dir, '8']);
  return dir;
}

/** nginx serving the fixture index as a static PEP 503 upstream (`<url>simple/`, files under `<url>packages/`). */
export async function startPypiUpstream(t: { teardown(fn: () => unknown): void }): Promise<NginxUpstream> {
  const upstream = new NginxUpstream();
  cpSync(join(pypiFixtures(), 'index'), upstream.root, { recursive: true });
  execFileSync('chmod', ['-R', 'a+rX', upstream.root]);
  t.teardown(() => upstream.dispose());
  await upstream.start();
  return upstream;
}

/** A fresh virtual environment with pip, isolated from any pip.conf or .pypirc of the machine. */
export class PythonEnv {
  readonly dir = mkdtempSync(join(tmpdir(), 'shelf-venv-'));
  private readonly env: NodeJS.ProcessEnv;

  /** `python`: the interpreter whose venv (and bundled pip) to use; Debian's own is /usr/bin/python3. */
  constructor(python = 'python3') {
    execFileSync(python, ['-m', 'venv', join(this.dir, 'venv')]);
    mkdirSync(join(this.dir, 'home'));
    this.env = {
      PATH: `${join(this.dir, 'venv', 'bin')}:${process.env.PATH}`,
      HOME: join(this.dir, 'home'),
      PIP_CONFIG_FILE: '/dev/null',
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      PIP_NO_INPUT: '1',
    };
  }

  /** pip with the index under test and no cache, so every file is fetched through Shelf. */
  pip(indexUrl: string, ...args: string[]): Promise<ToolResult> {
    const [command, ...rest] = args;
    return run(join(this.dir, 'venv', 'bin', 'pip'), [command!, '--no-cache-dir', '--index-url', indexUrl, ...rest], this.env, this.dir);
  }

  python(code: string): Promise<ToolResult> {
    return run(join(this.dir, 'venv', 'bin', 'python'), ['-c', code], this.env, this.dir);
  }

  /** Debian's twine, uploading through the legacy API to `repositoryUrl`. */
  twine(repositoryUrl: string, ...args: string[]): Promise<ToolResult> {
    return this.twineAs('shelf:shelf', repositoryUrl, ...args);
  }

  /** twine with the credentials `user:password` (or a token as the password). */
  twineAs(credentials: string, repositoryUrl: string, ...args: string[]): Promise<ToolResult> {
    const [user = '', password = ''] = credentials.split(/:(.*)/s);
    return run('twine', ['upload', '--non-interactive', '--disable-progress-bar', '-u', user, '-p', password, '--repository-url', repositoryUrl, ...args], this.env, this.dir);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function pythonEnv(t: { teardown(fn: () => unknown): void }, python?: string): PythonEnv {
  const env = new PythonEnv(python);
  t.teardown(() => env.remove());
  return env;
}
