import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ShelfConfig } from '../config/schema.js';
import type { MetadataIndex, NodeRecord } from '../storage/metadata-index.js';
import { SHELF_VERSION } from '../version.js';

/** How often every serving process reports its node alive; a node unheard for three of these is down. */
export const HEARTBEAT_MS = 10_000;
/** Nodes unheard for longer than this are left out of the list altogether. */
const FORGOTTEN_AFTER_MS = 24 * 3600_000;

/** Set by the node's first process before it forks, so that every worker reports the same start. */
const STARTED_AT_VARIABLE = 'SHELF_NODE_STARTED_AT';

/** This node's name among those sharing an index: `server.nodeId`, or the host name and port. */
export const nodeIdOf = (config: ShelfConfig) => config.server.nodeId ?? `${hostname()}:${config.server.port}`;

/** Called once by the process that starts the node (the cluster's primary, or the single process). */
export function markNodeStart(): void {
  process.env[STARTED_AT_VARIABLE] ??= String(Date.now());
}

export interface NodeStatus extends NodeRecord {
  /** Heard from within the last three heartbeats. */
  alive: boolean;
  /** The node answering this request. */
  self: boolean;
}

/** This node as the shared index knows it: every worker sends the same heartbeat row. */
export class NodeHeartbeat {
  readonly node: Omit<NodeRecord, 'heartbeatAt'>;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly index: MetadataIndex,
    config: ShelfConfig,
    private readonly log: Logger,
  ) {
    const { host, port } = config.server;
    const reachableHost = host === '0.0.0.0' || host === '::' ? hostname() : host;
    this.node = {
      id: nodeIdOf(config),
      host: hostname(),
      url: `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`,
      version: SHELF_VERSION,
      startedAt: Number(process.env[STARTED_AT_VARIABLE]) || Date.now(),
    };
    void this.beat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS).unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.index.heartbeat({ ...this.node, heartbeatAt: Date.now() });
    } catch (err) {
      // Readiness reports the database; one missed heartbeat is only worth a debug line.
      this.log.debug({ err }, 'could not record the node heartbeat');
    }
  }

  async nodes(now = Date.now()): Promise<NodeStatus[]> {
    return (await this.index.listNodes(now - FORGOTTEN_AFTER_MS)).map((node) => ({
      ...node,
      alive: node.heartbeatAt >= now - 3 * HEARTBEAT_MS,
      self: node.id === this.node.id,
    }));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
