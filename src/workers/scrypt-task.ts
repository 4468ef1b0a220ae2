import { scryptSync, type ScryptOptions } from 'node:crypto';

export interface ScryptTask {
  password: string;
  salt: Uint8Array;
  keyBytes: number;
  options: ScryptOptions;
}

/**
 * Runs in a worker thread of its own: scrypt computed synchronously there, so password checks use neither
 * the event loop nor libuv's thread pool, which serves every file read and write.
 */
export default function scryptTask({ password, salt, keyBytes, options }: ScryptTask): Uint8Array {
  return scryptSync(password, salt, keyBytes, options);
}
