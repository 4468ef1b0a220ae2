import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool, type ToolResult } from './run-tool.js';

const execFileAsync = promisify(execFile);

/** Debian roots made by debootstrap are kept here between runs (a run takes a copy of one and boots that). */
export const ROOT_CACHE = process.env.SHELF_APPLIANCE_CACHE ?? '/var/cache/shelf-appliance-test';
/** Debian's own nodejs too: 20 on Debian 13 (the tarball runs on it), 18 on Debian 12 (the tarball refuses it). */
const PACKAGES = 'systemd,systemd-sysv,dbus,logrotate,curl,procps,ca-certificates,openssl,nodejs,nginx';

/** Why the appliance tests cannot run here, or undefined when they can. */
export function whyNoContainers(): string | undefined {
  if (process.getuid?.() !== 0) return 'systemd-nspawn needs root';
  for (const tool of ['systemd-nspawn', 'debootstrap', 'nsenter', 'dpkg-deb']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install systemd-container debootstrap)`;
    }
  }
  return undefined;
}

/** The Debian mirror apt on this machine uses, read from its sources (never written into the repository). */
function debianMirror(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+main/m.exec(text)?.[1];
    if (uri && !uri.includes('security')) return uri;
  }
  throw new Error('no Debian mirror found in the apt sources');
}

/**
 * A minimal Debian root of `suite` with systemd, made once (under a lock: test files may run at once). It is
 * asynchronous so that several are made at once, beside a package build.
 */
export async function debianRoot(suite: string): Promise<string> {
  const root = join(ROOT_CACHE, `root-${suite}`);
  mkdirSync(ROOT_CACHE, { recursive: true });
  await execFileAsync(
    'flock',
    [join(ROOT_CACHE, `${suite}.lock`), 'sh', '-c',
      // A root made with other packages is brought up to date in place; none is made from scratch.
      'if [ -x "$1/usr/lib/systemd/systemd" ]; then [ "$(cat "$1/.packages" 2>/dev/null)" = "$3" ] && exit 0; ' +
        'chroot "$1" apt-get install -y -qq $(echo "$3" | tr , " ") >"$1.log" 2>&1 && chroot "$1" apt-get clean && echo "$3" > "$1/.packages"; exit; fi; ' +
        'rm -rf "$1.tmp" && debootstrap --variant=minbase --include="$3" "$2" "$1.tmp" "$4" >"$1.log" 2>&1 && chroot "$1.tmp" apt-get clean && echo "$3" > "$1.tmp/.packages" && mv "$1.tmp" "$1"',
      '_', root, suite, PACKAGES, debianMirror()],
  );
  return root;
}

/**
 * A copy of a cached root, booted with `systemd-nspawn -b --private-network` (no machined on this host:
 * `--register=no --keep-unit`; the unified cgroup hierarchy, which Debian 13's systemd needs). Commands run
 * inside through nsenter into its namespaces.
 */
export class Container {
  private child?: ChildProcess;
  private init = 0;
  private output = '';

  private constructor(readonly dir: string) {}

  /** Boots a copy of `root` (a cached root from debianRoot, or one taken out of an image) named `name`. */
  static async boot(root: string, name: string, workDir: string, binds: Record<string, string> = {}): Promise<Container> {
    const container = new Container(join(workDir, `root-${name}`));
    rmSync(container.dir, { recursive: true, force: true });
    // cp -a: the root has device nodes, which node's copy cannot make.
    execFileSync('cp', ['-a', root, container.dir]);
    const args = ['-D', container.dir, '-b', '--register=no', '--keep-unit', '--console=pipe', '--private-network', '--machine', name];
    for (const [host, inside] of Object.entries(binds)) args.push(`--bind-ro=${host}:${inside}`);
    container.child = spawn('systemd-nspawn', args, { env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    container.child.stdout!.on('data', (chunk: Buffer) => (container.output += chunk.toString()));
    container.child.stderr!.on('data', (chunk: Buffer) => (container.output += chunk.toString()));
    for (let i = 0; i < 300 && !container.init; i++) {
      await sleep(100);
      const found = await runTool('pgrep', ['-P', String(container.child.pid), '-x', 'systemd'], process.env);
      container.init = Number(found.stdout.trim()) || 0;
    }
    try {
      if (!container.init) throw new Error(`the container did not boot:\n${container.output}`);
      // The system bus comes up a moment after init; then wait for the boot to finish.
      const state = await container.until('systemctl is-system-running --wait | grep -Eq "running|degraded"', 120);
      if (state.code !== 0) throw new Error(`the container's systemd did not finish booting: ${state.stdout}${state.stderr}`);
      return container;
    } catch (err) {
      await container.stop();
      throw err;
    }
  }

  /** Runs a shell command inside, as root, with a clean environment (as a login would have). */
  sh(command: string): Promise<ToolResult> {
    return runTool('nsenter', ['-t', String(this.init), '-a', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'sh', '-c', command], process.env);
  }

  /** Waits until `command` exits 0 (a service coming back, say); returns its last result. */
  async until(command: string, seconds = 60): Promise<ToolResult> {
    let result = await this.sh(command);
    for (let i = 0; i < seconds * 2 && result.code !== 0; i++) {
      await sleep(500);
      result = await this.sh(command);
    }
    return result;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child!.once('exit', resolve));
      // A poweroff; if the container has not gone in 20 s, killing its init ends every process in it.
      const kill = (signal: NodeJS.Signals | number) => {
        try {
          if (this.init) process.kill(this.init, signal);
        } catch {
          // already gone
        }
      };
      kill('SIGRTMIN+4' as NodeJS.Signals);
      const hard = setTimeout(() => {
        kill('SIGKILL');
        this.child?.kill('SIGKILL');
      }, 20_000);
      await exited;
      clearTimeout(hard);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Two builds of the .deb from one staged release (the version under test and a newer one to upgrade to), and
 * the tarball of the first.
 */
export function buildPackages(outDir: string): { first: string; second: string; firstVersion: string; secondVersion: string; tarball: string } {
  const stage = join(outDir, 'stage');
  execFileSync('appliance-image/stage.sh', [stage], { stdio: ['ignore', 'ignore', 'inherit'] });
  const firstVersion = (JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as { version: string }).version;
  const secondVersion = `${firstVersion}+upgrade1`;
  const build = (version: string) =>
    execFileSync('appliance-image/build-deb.sh', [outDir], { env: { ...process.env, SHELF_STAGE: stage, SHELF_VERSION: version }, encoding: 'utf8' }).trim();
  const first = build(firstVersion);
  const second = build(secondVersion);
  const tarball = execFileSync('appliance-image/build.sh', [outDir], { env: { ...process.env, SHELF_STAGE: stage }, encoding: 'utf8' }).trim();
  return { first, second, firstVersion, secondVersion, tarball };
}

