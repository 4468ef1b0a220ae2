import { statfs } from 'node:fs/promises';
import { formatByteSize } from '../config/byte-size.js';
import { ShelfError } from '../errors.js';

/** Without a configured minimum: 5% of the filesystem, at most 2 GiB. */
const DEFAULT_SHARE = 0.05;
const DEFAULT_CAP_BYTES = 2 * 1024 ** 3;

export interface DiskSpace {
  freeBytes: number;
  minFreeBytes: number;
  low: boolean;
}

/**
 * Refuses new bytes (deploys, uploads, downloads of uncached files) while the data disk has less than
 * `storage.minFreeBytes` free, so that a full disk never stops what is already stored from being served,
 * nor the index from being written. A write that still meets a full disk fails cleanly (ENOSPC is a 507).
 */
export class DiskGuard {
  private wasLow = false;

  constructor(
    private readonly dir: string,
    private readonly configuredMinFreeBytes: number | undefined,
    /** Told when the disk goes low and when it recovers. */
    private readonly onChange: (space: DiskSpace) => void = () => undefined,
  ) {}

  /** Looked up afresh each time: a statfs costs less than the fsync every write ends with. */
  async space(): Promise<DiskSpace> {
    const { bavail, bsize, blocks } = await statfs(this.dir);
    const minFreeBytes = this.configuredMinFreeBytes ?? Math.min(Math.floor(blocks * bsize * DEFAULT_SHARE), DEFAULT_CAP_BYTES);
    const space = { freeBytes: bavail * bsize, minFreeBytes, low: bavail * bsize < minFreeBytes };
    if (space.low !== this.wasLow) {
      this.wasLow = space.low;
      this.onChange(space);
    }
    return space;
  }

  /** Throws 507 while the disk is low. */
  async check(): Promise<void> {
    const space = await this.space();
    if (space.low) {
      throw new ShelfError(
        'INSUFFICIENT_STORAGE',
        507,
        `the data disk has ${formatByteSize(space.freeBytes)} free, less than storage.minFreeBytes (${formatByteSize(space.minFreeBytes)}): ` +
          'nothing new is stored until space is freed (shelf gc, smaller caches, or a larger disk); stored content is still served',
      );
    }
  }
}
