import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const SCRIPT = new URL('../harness/static-upstream.sh', import.meta.url).pathname;

/** nginx (from Debian) serving a directory on loopback: a real upstream, with an access log to count requests. */
export class NginxUpstream {
  readonly root = mkdtempSync(join(tmpdir(), 'shelf-upstream-'));
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  private get accessLog(): string {
    return `/tmp/static-upstream-${this.port}/access.log`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    chmodSync(this.root, 0o755); // nginx's workers run as another user
    execFileSync('bash', [SCRIPT, 'start', this.root, String(this.port)], { stdio: 'pipe' });
  }

  stop(): void {
    execFileSync('bash', [SCRIPT, 'stop', this.root, String(this.port)], { stdio: 'pipe' });
    // nginx removes its pid file as it exits; wait so a restart on the same port does not race it.
    const pidFile = `/tmp/static-upstream-${this.port}/nginx.pid`;
    for (let i = 0; i < 100 && existsSync(pidFile); i++) execFileSync('sleep', ['0.05']);
  }

  /** Requests nginx logged for `path` ("GET /file 200"), in order. */
  requests(path: string): string[] {
    if (!existsSync(this.accessLog)) return [];
    return readFileSync(this.accessLog, 'utf8')
      .split('\n')
      .map((line) => /"(\w+) (\S+) HTTP\/[\d.]+" (\d+)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && m[2] === path)
      .map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  }

  dispose(): void {
    this.stop();
    rmSync(this.root, { recursive: true, force: true });
    rmSync(`/tmp/static-upstream-${this.port}`, { recursive: true, force: true });
  }
}
