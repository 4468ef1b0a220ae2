import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { openBlobStore, postgresSettings, storagePaths } from '../app.js';
import { copySqliteToPostgres, requireEmptyPostgres } from '../storage/index-copy.js';
import { PostgresIndex } from '../storage/postgres-index.js';
import type { ShelfConfig } from '../config/schema.js';
import { mapBounded } from '../concurrency.js';
import { BLOB_PREFIXES, BlobStore } from '../storage/blob-store.js';
import { SqliteIndex } from '../storage/sqlite-index.js';
import type { JobContext } from './job-context.js';
import { withLease } from './lease.js';
import { SHELF_VERSION } from '../version.js';

/** What a backup directory holds, written last: a directory without it is an unfinished backup. */
export interface BackupManifest {
  format: 'shelf-backup/1';
  /** The Shelf version that made it, and the index schema it holds. */
  version: string;
  schemaVersion: number;
  createdAt: string;
  /** Only the index and the keys: the blobs stay where they are (an upgrade's backup). */
  indexOnly: boolean;
  blobs: { count: number; bytes: number };
}

export interface BackupOptions {
  indexOnly: boolean;
  onProgress?: (done: number, total: number) => void;
}

const MANIFEST = 'backup.json';
const INDEX = 'index.sqlite';
/** Blobs copied at once: the work waits on two disks. */
const COPY_CONCURRENCY = 4;

/**
 * A consistent backup while Shelf serves: SQLite's online backup of the index, then every blob that copy
 * refers to, read verified and written verified, then the keys (tokens and bundle signatures stay valid).
 * Garbage collection and eviction wait meanwhile, so nothing the copy refers to is deleted before it is read.
 * A directory used again is brought up to date: blobs already there are not copied again.
 */
export async function backup(context: Pick<JobContext, 'config' | 'index' | 'blobs'>, target: string, options: BackupOptions): Promise<BackupManifest> {
  return withLease(context.index, 'garbage collection', () =>
    withLease(context.index, 'cache eviction', async () => {
      await mkdir(target, { recursive: true, mode: 0o750 });
      await rm(join(target, MANIFEST), { force: true });
      const partial = join(target, `${INDEX}.partial`);
      await rm(partial, { force: true });
      await context.index.snapshot(partial);
      const copy = new SqliteIndex(partial, { readOnly: true });
      const manifest: BackupManifest = {
        format: 'shelf-backup/1',
        version: SHELF_VERSION,
        schemaVersion: copy.schemaVersion,
        createdAt: new Date().toISOString(),
        indexOnly: options.indexOnly,
        blobs: { count: 0, bytes: 0 },
      };
      try {
        if (!options.indexOnly) {
          const store = BlobStore.onDisk(join(target, 'blobs'));
          await store.init();
          for (const [done, prefix] of BLOB_PREFIXES.entries()) {
            await mapBounded(await copy.blobDigestsWithPrefix(prefix), COPY_CONCURRENCY, async (sha256) => {
              manifest.blobs.count += 1;
              manifest.blobs.bytes += await copyBlob(context.blobs, store, sha256);
            });
            options.onProgress?.(done + 1, BLOB_PREFIXES.length);
          }
        }
      } finally {
        await copy.close();
      }
      await rename(partial, join(target, INDEX));
      await copyKeys(join(storagePaths(context.config).dataDir, 'security'), join(target, 'security'));
      await writeFile(join(target, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    }),
  );
}

/** Copies one blob unless the target has it at the right size; returns its size. */
async function copyBlob(from: BlobStore, to: BlobStore, sha256: string): Promise<number> {
  const [source, present] = await Promise.all([from.statBlob(sha256), to.statBlob(sha256)]);
  if (!source) throw new Error(`blob sha256:${sha256} is in the index but not in the blob store (shelf storage verify --repair)`);
  if (present?.size === source.size) return source.size;
  await to.write(await from.open(sha256), { expect: { sha256, size: source.size } });
  return source.size;
}

/** The key files (JWT signing, bundle signing), owner-only as they were. */
async function copyKeys(from: string, to: string): Promise<void> {
  const names = await readdir(from).catch(() => [] as string[]);
  await mkdir(to, { recursive: true, mode: 0o700 });
  for (const name of names) {
    if (!(await stat(join(from, name))).isFile()) continue;
    await copyFile(join(from, name), join(to, name));
    await chmod(join(to, name), 0o600);
  }
}

export async function readBackupManifest(dir: string): Promise<BackupManifest> {
  const text = await readFile(join(dir, MANIFEST), 'utf8').catch(() => {
    throw new Error(`${dir} holds no finished backup (no ${MANIFEST})`);
  });
  const manifest = JSON.parse(text) as BackupManifest;
  if (manifest.format !== 'shelf-backup/1') throw new Error(`${dir}: unknown backup format ${String(manifest.format)}`);
  return manifest;
}

export interface RestoreReport {
  manifest: BackupManifest;
  blobsCopied: number;
  /** Where the index that was replaced was kept. */
  previousIndex?: string;
}

/**
 * Puts a backup in place of the data directory's index and keys, with Shelf stopped; with storage.index
 * postgres, the index goes into that database, which must be empty. Blobs the backup holds and the store
 * lacks are copied in first (verified), so the restored index never names a missing blob; the index
 * replaced is kept beside it. Blobs only the replaced index used are left to garbage collection.
 */
export async function restore(config: ShelfConfig, dir: string): Promise<RestoreReport> {
  const manifest = await readBackupManifest(dir);
  if (await isListening(config)) {
    throw new Error(`Shelf answers on port ${config.server.port}: stop it first (systemctl stop shelf)`);
  }
  const postgres = postgresSettings(config);
  if (postgres) {
    // Created (or brought up to date), and checked empty before any blob or key is touched.
    await (await PostgresIndex.open(postgres)).close();
    await requireEmptyPostgres(postgres.url);
  }
  const paths = storagePaths(config);
  const store = openBlobStore(config);
  await store.init();
  let blobsCopied = 0;
  if (!manifest.indexOnly) {
    const from = BlobStore.onDisk(join(dir, 'blobs'));
    for (const prefix of BLOB_PREFIXES) {
      await mapBounded(await from.listPrefix(prefix), COPY_CONCURRENCY, async (sha256) => {
        if (await store.has(sha256)) return;
        await copyBlob(from, store, sha256);
        blobsCopied += 1;
      });
    }
  } else {
    const restored = new SqliteIndex(join(dir, INDEX), { readOnly: true });
    try {
      await requireBlobs(restored, store);
    } finally {
      await restored.close();
    }
  }
  await copyKeys(join(dir, 'security'), join(paths.dataDir, 'security'));
  if (postgres) {
    // The copy goes into an empty database only: PostgreSQL's own backups (pg_dump) restore over a used one.
    await copySqliteToPostgres(join(dir, INDEX), postgres.url);
    return { manifest, blobsCopied };
  }
  const previousIndex = `${paths.index}.before-restore-${Date.now()}`;
  const incoming = `${paths.index}.restoring`;
  await copyFile(join(dir, INDEX), incoming);
  const hadIndex = await stat(paths.index).then(() => true, () => false);
  if (hadIndex) {
    // A consistent copy of the index being replaced: its WAL is folded in first.
    const current = new SqliteIndex(paths.index, { readOnly: true });
    await current.snapshot(previousIndex);
    await current.close();
  }
  await rm(`${paths.index}-wal`, { force: true });
  await rm(`${paths.index}-shm`, { force: true });
  await rename(incoming, paths.index);
  return { manifest, blobsCopied, ...(hadIndex && { previousIndex }) };
}

/** An index-only backup is restored over a blob store that must still hold what it names. */
async function requireBlobs(index: SqliteIndex, store: BlobStore): Promise<void> {
  for (const prefix of BLOB_PREFIXES) {
    for (const sha256 of await index.blobDigestsWithPrefix(prefix)) {
      if (!(await store.has(sha256))) throw new Error(`the backup's index names blob sha256:${sha256}, which the blob store no longer has`);
    }
  }
}

/** Whether something answers on the configured port: Shelf still running. */
export function isListening(config: ShelfConfig): Promise<boolean> {
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return new Promise((resolve) => {
    const socket = connect({ host, port: config.server.port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
