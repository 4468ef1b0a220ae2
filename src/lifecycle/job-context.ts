import type { Logger } from 'pino';
import { openStorage, storagePaths, type ShelfIndex } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { formatModule } from '../formats/index.js';
import { LocalFlightCoordinator } from '../repos/flights.js';
import { RepositoryRegistry } from '../repos/repository-registry.js';
import { AuditLog } from '../security/audit-log.js';
import type { BlobStore } from '../storage/blob-store.js';

/** What a lifecycle job run outside a serving process (the scheduler, the CLI) works with. */
export interface JobContext {
  config: ShelfConfig;
  log: Logger;
  blobs: BlobStore;
  index: ShelfIndex;
  repos: RepositoryRegistry;
  audit: AuditLog;
}

/** Opens the storage, repositories and audit log for one job, and closes them however it ends. */
export async function withJobContext<T>(config: ShelfConfig, log: Logger, job: (context: JobContext) => Promise<T>): Promise<T> {
  const { blobs, index } = await openStorage(config);
  const repos = new RepositoryRegistry(config.repositories, (repo) => formatModule(repo.format).rules(repo), {
    blobs,
    index,
    flights: new LocalFlightCoordinator(),
    log,
    upstreamObserver: { response: () => undefined, bytes: () => undefined, failure: () => undefined },
  });
  const audit = new AuditLog(storagePaths(config).auditLog);
  try {
    return await job({ config, log, blobs, index, repos, audit });
  } finally {
    await repos.close();
    await audit.close();
    await index.close();
  }
}
