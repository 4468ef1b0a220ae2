import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Runs in a piscina worker thread: the sha256 of a file at rest, off the serving event loop. */
export default async function hashFile({ path }: { path: string }): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
