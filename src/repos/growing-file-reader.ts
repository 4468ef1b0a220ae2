import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ByteRange } from '../storage/blob-store.js';
import { deserializeError, type Flight, type FlightEnd } from './flights.js';

const POLL_MS = 15;
const CHUNK = 256 * 1024;

/**
 * Streams a file another writer (in this or another process) is still appending to, from `range.start`,
 * until the flight ends: to the end of the range once the body is stored, or with the flight's error.
 * The descriptor is opened once, so the writer's rename into the blob store does not disturb it.
 * `openStored` serves the committed blob when the temp file is already gone, and whatever the file had not
 * shown when the flight ended.
 */
export function readGrowingFile(
  tempPath: string,
  flight: Flight,
  range: ByteRange | undefined,
  openStored: (sha256: string, range?: ByteRange) => Promise<Readable>,
): Readable {
  let ended: FlightEnd | undefined;
  void flight.end.then((end) => (ended = end));

  async function* chunks(): AsyncGenerator<Buffer> {
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const end = await flight.end;
      if (end.type !== 'stored') throw endError(end);
      yield* await openStored(end.sha256, range);
      return;
    }
    try {
      let position = range?.start ?? 0;
      const limit = range ? range.end + 1 : Infinity;
      // The last chunk read is held back until the flight ends: if the body then fails verification, the
      // client never receives its final bytes and so cannot mistake a bad download for a complete one.
      let held: Buffer | undefined;
      for (;;) {
        const chunk = await readChunk(handle, position, Math.min(CHUNK, limit - position));
        if (chunk) {
          position += chunk.length;
          if (held) yield held;
          held = chunk;
          continue;
        }
        const end = ended;
        if (end === undefined) {
          await sleep(POLL_MS);
          continue;
        }
        if (end.type !== 'stored') throw endError(end);
        if (held) yield held;
        // What this descriptor has not seen yet (on a filesystem shared between hosts, another host's latest
        // writes may show here late) comes from the stored blob, which was verified whole.
        const until = Math.min(end.size, limit);
        if (position < until) yield* await openStored(end.sha256, { start: position, end: until - 1 });
        return;
      }
    } finally {
      await handle.close();
    }
  }

  return Readable.from(chunks(), { objectMode: false });
}

async function readChunk(handle: FileHandle, position: number, length: number): Promise<Buffer | undefined> {
  if (length <= 0) return undefined;
  const buffer = Buffer.allocUnsafe(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return bytesRead > 0 ? buffer.subarray(0, bytesRead) : undefined;
}

function endError(end: FlightEnd): Error {
  return end.type === 'failed' ? deserializeError(end.error) : new Error(`upstream fetch ended: ${end.type}`);
}
