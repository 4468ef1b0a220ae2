import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultHandler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

/**
 * An upstream that misbehaves on purpose (dies mid-body, lies about checksums, rate-limits, stalls):
 * the faults a real server shows only by accident. Each path has its own handler and request count.
 */
export class FaultyUpstream {
  private readonly server: Server;
  private readonly handlers = new Map<string, FaultHandler>();
  readonly counts = new Map<string, number>();

  constructor() {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const attempt = (this.counts.get(path) ?? 0) + 1;
      this.counts.set(path, attempt);
      const handler = this.handlers.get(path);
      if (handler) handler(req, res, attempt);
      else res.writeHead(404).end();
    });
  }

  on(path: string, handler: FaultHandler): void {
    this.handlers.set(path, handler);
  }

  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
