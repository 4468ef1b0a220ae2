import { createRequire } from 'node:module';

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}

/**
 * systemd's readiness protocol (sd_notify) for a `Type=notify` unit: datagrams such as `READY=1` to the
 * socket named by NOTIFY_SOCKET. Node has no Unix datagram sockets, hence the small `unix-dgram` addon (an
 * optional dependency), loaded only under systemd. Without NOTIFY_SOCKET (a terminal, a test) every call does nothing.
 */
export class SystemdNotifier {
  private readonly socketPath = notifySocketPath(process.env.NOTIFY_SOCKET);
  private watchdog?: NodeJS.Timeout;

  get active(): boolean {
    return this.socketPath !== undefined;
  }

  /** Startup finished: `systemctl start` returns, and a start that never gets here fails on TimeoutStartSec. */
  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
    // WatchdogSec= in the unit: prove the primary's loop runs, twice per period.
    const usec = Number(process.env.WATCHDOG_USEC);
    if (usec > 0 && !this.watchdog) {
      this.watchdog = setInterval(() => this.send('WATCHDOG=1'), usec / 2000);
      this.watchdog.unref();
    }
  }

  stopping(): void {
    clearInterval(this.watchdog);
    this.send('STOPPING=1');
  }

  private send(message: string): void {
    if (!this.socketPath) return;
    let unix: { createSocket(type: 'unix_dgram'): UnixDgramSocket };
    try {
      unix = createRequire(import.meta.url)('unix-dgram') as typeof unix;
    } catch (err) {
      // An optional dependency (it needs a C++ toolchain to build): the appliance packages always carry it.
      process.stderr.write(`NOTIFY_SOCKET is set but the unix-dgram module cannot be loaded, so systemd is not told: ${(err as Error).message}\n`);
      return;
    }
    const socket = unix.createSocket('unix_dgram');
    socket.on('error', () => undefined);
    const buf = Buffer.from(message);
    socket.send(buf, 0, buf.length, this.socketPath, () => socket.close());
  }
}

/** An abstract socket is written `@name`; the kernel's name for it starts with a NUL byte. */
function notifySocketPath(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return value.startsWith('@') ? `\0${value.slice(1)}` : value;
}
