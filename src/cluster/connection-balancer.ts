import type { Worker } from 'node:cluster';
import { createServer, type Server, type Socket } from 'node:net';

/** Connections held while no worker is ready; past this they are refused. */
const MAX_WAITING = 1024;

/** Which of a worker's listeners a handed-over connection belongs to. */
export type ListenerName = 'http' | 'https';

/** The message that carries a connection from the primary to a worker (the socket travels beside it). */
export interface ConnectionMessage {
  shelf: 'connection';
  listener: ListenerName;
}

/**
 * The primary's listening sockets, and the hand-over of each accepted connection to a ready worker in turn.
 * This replaces node:cluster's round-robin, which keeps its copy of a connection until the worker
 * acknowledges it: when the worker dies first, the acknowledgement never comes and the connection hangs
 * for ever with no one to serve it (Node's own handle queue for a worker has the same flaw). Here the
 * primary closes its copy as soon as the socket is written to the worker's channel (the kernel then holds
 * it, and closes it if the worker dies unread), and closes every socket still queued for a worker that
 * exits, so the client sees a reset at once instead of a hang.
 */
export class ConnectionBalancer {
  private readonly servers: Server[] = [];
  private readonly ready: Worker[] = [];
  /** Connections that arrived while no worker was ready (at start, or while all are being replaced). */
  private readonly waiting: { listener: ListenerName; socket: Socket }[] = [];
  /** Sockets sent to a worker whose write to its channel has not completed yet. */
  private readonly sending = new Map<Worker, Set<Socket>>();
  private next = 0;

  async listen(listener: ListenerName, host: string, port: number): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (socket) => this.handOver(listener, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.servers.push(server);
  }

  /** A worker that has its listeners up; connections go to ready workers only. */
  addWorker(worker: Worker): void {
    if (!this.ready.includes(worker)) this.ready.push(worker);
    for (const { listener, socket } of this.waiting.splice(0)) if (!socket.destroyed) this.handOver(listener, socket);
  }

  removeWorker(worker: Worker): void {
    const at = this.ready.indexOf(worker);
    if (at !== -1) this.ready.splice(at, 1);
    for (const socket of this.sending.get(worker) ?? []) socket.destroy();
    this.sending.delete(worker);
  }

  /** Stops accepting; connections already handed over are the workers' to finish. */
  close(): void {
    for (const server of this.servers) server.close();
  }

  private handOver(listener: ListenerName, socket: Socket, attempts = this.ready.length): void {
    if (this.ready.length === 0 && this.waiting.length < MAX_WAITING) {
      this.waiting.push({ listener, socket });
      return;
    }
    const worker = this.ready[this.next++ % Math.max(1, this.ready.length)];
    if (!worker || attempts <= 0) {
      socket.destroy();
      return;
    }
    const message: ConnectionMessage = { shelf: 'connection', listener };
    const sending = this.sending.get(worker) ?? new Set<Socket>();
    this.sending.set(worker, sending.add(socket));
    worker.send(message, socket, { keepOpen: true }, (err) => {
      sending.delete(socket);
      if (!err) {
        socket.destroy(); // the worker's copy (in its channel or in its hands) carries the connection now
        return;
      }
      // The worker went away as it was sent: another one takes the connection, if it is still open.
      if (!socket.destroyed) this.handOver(listener, socket, attempts - 1);
    });
  }
}
