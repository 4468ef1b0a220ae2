import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort } from './ports.js';

const HARNESS = join(import.meta.dirname, '..', 'harness', 's3-radosgw.sh');
const TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool'];

/** Ceph's RADOS gateway on loopback (test/harness/s3-radosgw.sh). `.ci/run` installs radosgw, ceph-mon and ceph-osd. */
export interface RunningS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A bucket name no other test of this server has used (Shelf creates the bucket when it is missing). */
  newBucket(): string;
  /** The `storage.blobs` section of a Shelf config for a new bucket on this server. */
  blobsConfig(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Stops the server for good (its objects were in memory). */
  stop(): void;
}

/** Why S3 tests cannot run here, if they cannot. */
export function s3Missing(): string | false {
  const absent = TOOLS.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  return absent.length > 0 ? `Ceph's RADOS gateway is not installed (apt-get install -y radosgw ceph-mon ceph-osd): no ${absent.join(', ')}` : false;
}

/** Starts a RADOS gateway (stopped by the harness should this process die first). */
export async function startS3(): Promise<RunningS3 & { destroy(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-s3-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const endpoint = execFileSync(HARNESS, ['start', dir, String(monPort), String(rgwPort), String(process.pid)], { encoding: 'utf8' }).trim();
  let buckets = 0;
  const newBucket = () => `shelf-test-${++buckets}`;
  return {
    endpoint,
    accessKeyId: 'shelf',
    secretAccessKey: 'shelf-secret',
    newBucket,
    blobsConfig: (extra = {}) => {
      process.env.SHELF_TEST_S3_SECRET = 'shelf-secret';
      return {
        type: 's3',
        bucket: newBucket(),
        endpoint,
        forcePathStyle: true,
        accessKeyId: 'shelf',
        secretAccessKey: { env: 'SHELF_TEST_S3_SECRET' },
        ...extra,
      };
    },
    stop: () => execFileSync(HARNESS, ['stop', dir]),
    destroy: () => execFileSync(HARNESS, ['stop', dir]),
  };
}

/**
 * An S3 server for a test file: started, and stopped when the file ends; undefined where it cannot run,
 * with the file skipped and the reason given.
 */
export async function s3For(t: Test): Promise<RunningS3 | undefined> {
  const missing = s3Missing();
  if (missing) {
    t.skip(missing);
    return undefined;
  }
  const server = await startS3();
  t.teardown(() => server.destroy());
  return server;
}
