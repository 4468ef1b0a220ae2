import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BundleRefused } from './bundle-refused.js';
import { bundleBlobPath, MANIFEST_FILE, SIGNATURE_FILE } from './manifest.js';
import { END_OF_ARCHIVE, padding, tarEntries, tarHeader, type TarEntry } from './tar.js';

/**
 * Where a bundle's files go and come from: a directory, or one tar archive (`*.tar`), optionally split into
 * numbered parts (`*.tar.000`, `*.tar.001`, …) of a fixed size for removable media. An archive holds the
 * manifest and its signature first, so an import checks them before it reads a single blob.
 */

export interface BundleSink {
  add(name: string, size: number, body: AsyncIterable<Buffer> | Buffer): Promise<void>;
  close(): Promise<void>;
}

const isArchivePath = (path: string) => path.endsWith('.tar');

/** A sink for `out`: an archive when it ends in `.tar` (in parts of `partBytes` when given), else a new or empty directory. */
export async function bundleSink(out: string, partBytes?: number): Promise<BundleSink> {
  if (isArchivePath(out)) return new ArchiveSink(await PartFiles.create(out, partBytes));
  if (partBytes !== undefined) throw new Error('parts are for archives: name the bundle <name>.tar');
  await mkdir(out, { recursive: true });
  if ((await readdir(out)).length > 0) throw new Error(`${out} is not empty`);
  return {
    async add(name, _size, body) {
      const target = join(out, name);
      await mkdir(dirname(target), { recursive: true });
      await pipeline(Buffer.isBuffer(body) ? [body] : body, createWriteStream(target, { flags: 'wx' }));
    },
    close: async () => undefined,
  };
}

/** Where an archive's bytes go: files on disk, or an HTTP response. */
interface ByteTarget {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Bytes into one file, or into numbered parts of at most `partBytes` each. */
class PartFiles implements ByteTarget {
  private file: FileHandle | undefined;
  private written = 0;
  private part = 0;

  private constructor(
    private readonly path: string,
    private readonly partBytes: number | undefined,
  ) {}

  static async create(path: string, partBytes: number | undefined): Promise<PartFiles> {
    if (partBytes !== undefined && (partBytes < 1024 * 1024 || partBytes % 512 !== 0)) throw new Error('a part holds at least 1 MiB, in whole 512-byte blocks');
    await mkdir(dirname(path), { recursive: true });
    const files = new PartFiles(path, partBytes);
    await files.nextFile();
    return files;
  }

  private async nextFile(): Promise<void> {
    await this.file?.close();
    const name = this.partBytes === undefined ? this.path : `${this.path}.${String(this.part++).padStart(3, '0')}`;
    this.file = await open(name, 'wx').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? new Error(`${name} exists already`) : err;
    });
    this.written = 0;
  }

  async write(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.partBytes !== undefined && this.written === this.partBytes) await this.nextFile();
      const room = this.partBytes === undefined ? rest.length : Math.min(rest.length, this.partBytes - this.written);
      await this.file!.write(rest, 0, room);
      this.written += room;
      rest = rest.subarray(room);
    }
  }

  async close(): Promise<void> {
    await this.file?.sync();
    await this.file?.close();
  }
}

/** An archive streamed into `stream` (an HTTP response), waiting whenever the reader is slower. */
export function streamSink(stream: Writable): BundleSink {
  return new ArchiveSink({
    write: (chunk) =>
      new Promise((resolve, reject) => {
        if (stream.destroyed) return reject(new Error('the receiver went away'));
        if (stream.write(chunk)) return resolve();
        const done = (err?: Error) => {
          stream.off('drain', done);
          stream.off('close', closed);
          if (err) reject(err);
          else resolve();
        };
        const closed = () => done(new Error('the receiver went away'));
        stream.once('drain', done);
        stream.once('close', closed);
      }),
    close: () => new Promise((resolve) => stream.end(resolve)),
  });
}

/** Entries as tar: header, bytes, padding; the end-of-archive blocks on close. */
class ArchiveSink implements BundleSink {
  constructor(private readonly target: ByteTarget) {}

  async add(name: string, size: number, body: AsyncIterable<Buffer> | Buffer): Promise<void> {
    await this.target.write(tarHeader(name, size));
    let count = 0;
    for await (const chunk of Buffer.isBuffer(body) ? [body] : body) {
      count += chunk.length;
      await this.target.write(chunk);
    }
    if (count !== size) throw new Error(`${name} gave ${count} bytes, not ${size}`);
    await this.target.write(padding(size));
  }

  async close(): Promise<void> {
    await this.target.write(END_OF_ARCHIVE);
    await this.target.close();
  }
}

export interface BundleSource {
  /** The signed manifest and its signature, read before anything else. */
  manifest(): Promise<{ bytes: Buffer; signature: string }>;
  /**
   * The blob files, each exactly once: those `listed` names (by sha256), in the source's order; a missing
   * or unlisted one is refused.
   */
  blobs(listed: ReadonlyMap<string, unknown>): AsyncIterable<{ sha256: string; body: AsyncIterable<Buffer> }>;
}

/** The source at `path`: a bundle directory, an archive, or the first part (`.000`) of one or the name before it. */
export async function bundleSource(path: string): Promise<BundleSource> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) return directorySource(path);
  const base = path.replace(/\.000$/, '');
  const parts = info?.isFile() && !path.endsWith('.000') ? [path] : await numberedParts(base);
  if (parts.length === 0) throw new BundleRefused(`${path} is not a bundle: no such directory, archive or first part (${base}.000)`);
  return archiveSource(concatenated(parts), parts.length === 1 ? parts[0]! : `${parts[0]} (${parts.length} parts)`);
}

async function numberedParts(base: string): Promise<string[]> {
  const parts: string[] = [];
  for (let n = 0; ; n++) {
    const part = `${base}.${String(n).padStart(3, '0')}`;
    if (!(await stat(part).catch(() => undefined))?.isFile()) return parts;
    parts.push(part);
  }
}

function directorySource(dir: string): BundleSource {
  return {
    async manifest() {
      const bytes = await readFile(join(dir, MANIFEST_FILE)).catch(() => {
        throw new BundleRefused(`${dir} is not a bundle: it has no ${MANIFEST_FILE}`);
      });
      const signature = await readFile(join(dir, SIGNATURE_FILE), 'utf8').catch(() => {
        throw new BundleRefused(`the bundle is not signed: ${SIGNATURE_FILE} is missing`);
      });
      return { bytes, signature };
    },
    async *blobs(listed) {
      for (const sha256 of listed.keys()) {
        const file = await open(join(dir, bundleBlobPath(sha256))).catch((err: Error) => {
          throw new BundleRefused(`blob sha256:${sha256} of the bundle is damaged or missing: ${err.message}`);
        });
        yield { sha256, body: file.createReadStream() };
      }
    },
  };
}

async function* concatenated(files: string[]): AsyncIterable<Buffer> {
  for (const file of files) yield* createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>;
}

/** An archive read as a stream (the parts of a file, or an HTTP body), named `label` in messages. */
export function archiveSource(stream: AsyncIterable<Buffer>, label: string): BundleSource {
  const entries = tarEntries(stream)[Symbol.asyncIterator]();
  const refusedRead = (err: unknown) => new BundleRefused(`the archive cannot be read: ${(err as Error).message}`);
  const nextEntry = async (): Promise<TarEntry | undefined> => {
    const next = await entries.next().catch((err: unknown) => {
      throw refusedRead(err);
    });
    return next.done ? undefined : next.value;
  };
  const whole = async (entry: TarEntry | undefined, name: string, problem: string): Promise<Buffer> => {
    if (entry?.name !== name) throw new BundleRefused(problem);
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    return Buffer.concat(chunks);
  };
  return {
    async manifest() {
      const bytes = await whole(await nextEntry(), MANIFEST_FILE, `${label} is not a bundle archive: it does not start with ${MANIFEST_FILE}`);
      const signature = await whole(await nextEntry(), SIGNATURE_FILE, `the bundle is not signed: ${SIGNATURE_FILE} does not follow the manifest`);
      return { bytes, signature: signature.toString('utf8') };
    },
    async *blobs(listed) {
      const seen = new Set<string>();
      for (let entry = await nextEntry(); entry; entry = await nextEntry()) {
        const sha256 = /^blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(entry.name)?.[1];
        if (!sha256 || !listed.has(sha256) || seen.has(sha256)) throw new BundleRefused(`the archive holds ${entry.name}, which its manifest does not list (once)`);
        seen.add(sha256);
        const body = entry.body;
        yield {
          sha256,
          body: (async function* () {
            try {
              yield* body;
            } catch (err) {
              throw refusedRead(err);
            }
          })(),
        };
      }
      const missing = [...listed.keys()].find((sha256) => !seen.has(sha256));
      if (missing) throw new BundleRefused(`the archive ends before blob sha256:${missing}: it is truncated, or a part is missing (${label})`);
    },
  };
}
