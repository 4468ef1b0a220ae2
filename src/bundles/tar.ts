/**
 * The subset of POSIX tar (ustar) a bundle archive is: regular files with short names, written and read as
 * streams, so a bundle of many GiB never sits in memory and `tar tf` can list it. Sizes past ustar's octal
 * field (8 GiB) use the base-256 form GNU tar and bsdtar read.
 */

const BLOCK = 512;
const OCTAL_SIZE_LIMIT = 8 ** 11;

export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

/** The zero bytes that round an entry's body up to whole blocks. */
export const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

export function tarHeader(name: string, size: number, mtimeMs = Date.now()): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  if (size < OCTAL_SIZE_LIMIT) header.write(octal(size, 12), 124, 'ascii');
  else {
    header[124] = 0x80;
    header.writeBigUInt64BE(BigInt(size), 128);
  }
  header.write(octal(Math.floor(mtimeMs / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\u000000', 257, 'ascii');
  header.write(octal(checksum(header), 7), 148, 'ascii');
  header[155] = 0x20;
  return header;
}

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum;
}

function sizeOf(header: Buffer): number {
  if (header[124]! & 0x80) return Number(header.readBigUInt64BE(128));
  return parseInt(header.toString('ascii', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
}

const text = (header: Buffer, start: number, end: number) => header.toString('utf8', start, end).replace(/\0.*$/s, '');

export interface TarEntry {
  name: string;
  size: number;
  /** Exactly the entry's bytes; what a reader leaves unread is skipped. */
  body: AsyncIterable<Buffer>;
}

/** Exact reads over a stream of chunks; the end of the stream in the middle of a read is a truncated archive. */
class ByteReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer> | Iterator<Buffer>) {}

  private async fill(wanted: number): Promise<void> {
    while (this.length < wanted && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) {
        this.buffered.push(next.value);
        this.length += next.value.length;
      }
    }
  }

  /** Up to `max` bytes (at least one), or undefined at the end of the stream. */
  async some(max: number): Promise<Buffer | undefined> {
    await this.fill(1);
    const first = this.buffered[0];
    if (!first) return undefined;
    const taken = first.length <= max ? first : first.subarray(0, max);
    if (taken === first) this.buffered.shift();
    else this.buffered[0] = first.subarray(max);
    this.length -= taken.length;
    return taken;
  }

  async exactly(count: number): Promise<Buffer | undefined> {
    await this.fill(count);
    if (this.length === 0) return undefined;
    if (this.length < count) throw truncated();
    const whole = Buffer.concat(this.buffered);
    this.buffered = whole.length > count ? [whole.subarray(count)] : [];
    this.length -= count;
    return whole.subarray(0, count);
  }

  /**
   * An entry's body: `count` bytes as chunks. It has no `return`, so a reader that stops early leaves the
   * rest in place for `skipRest`.
   */
  body(count: number): { iterable: AsyncIterable<Buffer>; skipRest(): Promise<void> } {
    let left = count;
    const next = async (): Promise<IteratorResult<Buffer>> => {
      if (left === 0) return { done: true, value: undefined };
      const chunk = await this.some(Math.min(left, 1024 * 1024));
      if (!chunk) throw truncated();
      left -= chunk.length;
      return { done: false, value: chunk };
    };
    return {
      iterable: { [Symbol.asyncIterator]: () => ({ next }) },
      skipRest: async () => {
        while (left > 0) await next();
      },
    };
  }
}

const truncated = () => new Error('the archive ends in the middle of an entry: it is truncated (or a part is missing)');

/** The regular files of an archive, in order; a damaged header or a truncated archive throws. */
export async function* tarEntries(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncIterable<TarEntry> {
  const reader = new ByteReader(Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]());
  for (;;) {
    const header = await reader.exactly(BLOCK);
    if (!header || header.every((byte) => byte === 0)) return;
    const recorded = parseInt(header.toString('ascii', 148, 156).replace(/\0.*$/, '').trim(), 8);
    if (recorded !== checksum(header)) throw new Error('a tar header is damaged (its checksum does not match)');
    const prefix = text(header, 345, 500);
    const name = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
    const size = sizeOf(header);
    const type = String.fromCharCode(header[156]!);
    const body = reader.body(size);
    if (type === '0' || type === '\0') yield { name, size, body: body.iterable };
    // Whatever the reader left (or an entry that is not a regular file) is skipped.
    await body.skipRest();
    await reader.exactly(padding(size).length);
  }
}
