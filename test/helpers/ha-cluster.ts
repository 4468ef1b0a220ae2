import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Identity } from '../../src/security/identity.js';
import { PostgresIndex } from '../../src/storage/postgres-index.js';
import type { FaultyUpstream } from './faulty-upstream.js';
import { freePort } from './ports.js';
import { startShelfProcess, type ShelfProcess } from './shelf.js';

const LOAD_BALANCER = join(import.meta.dirname, '..', 'harness', 'load-balancer.sh');

export interface HaCluster {
  /** The load balancer's address: what clients use. */
  url: string;
  nodes: ShelfProcess[];
  /** The data directory every node shares (with ownDataDirs, node 1's). */
  dataDir: string;
  /** Each node's config file (any of them runs the CLI against the shared index and storage). */
  configFile(node: number): string;
}

/**
 * Several Shelf nodes (each `shelf serve` with its workers) sharing one data directory and one PostgreSQL
 * index, behind nginx as the load balancer, as docs/operations.md deploys them. With `ownDataDirs` (blobs
 * in S3), each node has a data directory of its own and only the key files are shared.
 */
export async function startHaCluster(
  t: Test,
  raw: Record<string, unknown>,
  options: { nodes: number; databaseUrl: string; workers?: number; ownDataDirs?: boolean },
): Promise<HaCluster> {
  const base = mkdtempSync(join(tmpdir(), 'shelf-ha-'));
  const dataDir = join(base, options.ownDataDirs ? join('node-1', 'data') : 'shared-data');
  mkdirSync(dataDir, { recursive: true });
  const storage = { ...(raw.storage as object), index: { type: 'postgres', url: options.databaseUrl } };
  // Made by the first node at its start, read by the others.
  const keys = join(base, 'keys');
  const shared = options.ownDataDirs
    ? { security: { ...(raw.security as object), signingKeyFile: join(keys, 'jwt.key') }, bundles: { ...(raw.bundles as object), signingKeyFile: join(keys, 'bundle-signing.key') } }
    : {};
  const nodes: ShelfProcess[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(base, { recursive: true, force: true });
  });
  for (let i = 1; i <= options.nodes; i++) {
    const dir = join(base, `node-${i}`);
    mkdirSync(dir, { recursive: true });
    const nodeStorage = { ...storage, dataDir: options.ownDataDirs ? join(dir, 'data') : dataDir };
    nodes.push(
      await startShelfProcess({ ...raw, ...shared, storage: nodeStorage, server: { ...(raw.server as object), nodeId: `node-${i}` } }, options.workers ?? 2, {
        baseDir: dir,
      }),
    );
  }
  const port = await freePort();
  const run = join(base, 'load-balancer');
  execFileSync(LOAD_BALANCER, ['start', run, String(port), ...nodes.map((node) => new URL(node.url).port)]);
  t.teardown(() => execFileSync(LOAD_BALANCER, ['stop', run]));
  return { url: `http://127.0.0.1:${port}`, nodes, dataDir, configFile: (node) => join(base, `node-${node}`, 'shelf.yaml') };
}

/** The test user `shelf` (password `shelf`), an administrator, made in the shared index before any node starts; its Basic header. */
export async function addClusterAdmin(databaseUrl: string): Promise<string> {
  const setup = await PostgresIndex.open({ url: databaseUrl });
  await new Identity(setup).addUser({ name: 'shelf', password: 'shelf', admin: true });
  await setup.close();
  return `Basic ${Buffer.from('shelf:shelf').toString('base64')}`;
}

/**
 * Serves `bytes` at `path` in 512 KiB steps `stepMs` apart: slow enough (about a second) that concurrent cold
 * requests all find the fetch under way.
 */
export function serveSlowly(upstream: FaultyUpstream, path: string, bytes: Buffer, stepMs: number): void {
  upstream.on(path, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    let offset = 0;
    const timer = setInterval(() => {
      res.write(bytes.subarray(offset, offset + 512 * 1024));
      offset += 512 * 1024;
      if (offset >= bytes.length) {
        clearInterval(timer);
        res.end();
      }
    }, stepMs);
  });
}
