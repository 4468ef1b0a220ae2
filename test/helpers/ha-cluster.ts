import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort } from './ports.js';
import { startShelfProcess, type ShelfProcess } from './shelf.js';

const LOAD_BALANCER = join(import.meta.dirname, '..', 'harness', 'load-balancer.sh');

export interface HaCluster {
  /** The load balancer's address: what clients use. */
  url: string;
  nodes: ShelfProcess[];
  /** The data directory every node shares. */
  dataDir: string;
  /** Each node's config file (any of them runs the CLI against the shared index and storage). */
  configFile(node: number): string;
}

/**
 * Several Shelf nodes (each `shelf serve` with its workers) sharing one data directory and one PostgreSQL
 * index, behind nginx as the load balancer, as docs/operations.md deploys them.
 */
export async function startHaCluster(t: Test, raw: Record<string, unknown>, options: { nodes: number; databaseUrl: string; workers?: number }): Promise<HaCluster> {
  const base = mkdtempSync(join(tmpdir(), 'shelf-ha-'));
  const dataDir = join(base, 'shared-data');
  mkdirSync(dataDir);
  const storage = { ...(raw.storage as object), dataDir, index: { type: 'postgres', url: options.databaseUrl } };
  const nodes: ShelfProcess[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(base, { recursive: true, force: true });
  });
  for (let i = 1; i <= options.nodes; i++) {
    const dir = join(base, `node-${i}`);
    mkdirSync(dir);
    nodes.push(await startShelfProcess({ ...raw, storage, server: { ...(raw.server as object), nodeId: `node-${i}` } }, options.workers ?? 2, { baseDir: dir }));
  }
  const port = await freePort();
  const run = join(base, 'load-balancer');
  execFileSync(LOAD_BALANCER, ['start', run, String(port), ...nodes.map((node) => new URL(node.url).port)]);
  t.teardown(() => execFileSync(LOAD_BALANCER, ['stop', run]));
  return { url: `http://127.0.0.1:${port}`, nodes, dataDir, configFile: (node) => join(base, `node-${node}`, 'shelf.yaml') };
}
