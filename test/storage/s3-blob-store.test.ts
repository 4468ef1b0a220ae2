import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BlobStore } from '../../src/storage/blob-store.js';
import { S3BlobPlace } from '../../src/storage/s3-blob-place.js';
import { s3For } from '../helpers/s3.js';
import { blobStoreContract } from './blob-store-contract.js';

const PART_BYTES = 5 * 1024 * 1024;

t.test('the blob store contract, on S3 (Ceph RADOS gateway)', async (t) => {
  const s3 = await s3For(t);
  if (!s3) return;
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  t.teardown(() => client.destroy());
  blobStoreContract(t, async () => {
    const root = mkdtempSync(join(tmpdir(), 'shelf-s3-blobs-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const bucket = s3.newBucket();
    const prefix = 'shelf/';
    const place = new S3BlobPlace({
      bucket,
      prefix,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials,
      requestTimeoutMs: 10_000,
      partBytes: PART_BYTES,
      tempDir: join(root, 'tmp'),
    });
    const store = new BlobStore(root, place);
    await store.init();
    const key = (sha256: string) => `${prefix}sha256/${sha256.slice(0, 2)}/${sha256}`;
    return {
      store,
      damage: async (sha256, bytes) => void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(sha256), Body: bytes }))),
      remove: async (sha256) => void (await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(sha256) }))),
      partBytes: PART_BYTES,
    };
  });
});
