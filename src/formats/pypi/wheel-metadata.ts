import { PassThrough, type Readable } from 'node:stream';
import yauzl from 'yauzl';
import { readAll } from '../../http/request-body.js';
import type { Artifact } from '../../repos/repository.js';

const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** Lets yauzl read a stored wheel's central directory and one entry by byte ranges, without loading the wheel. */
class ArtifactReader extends yauzl.RandomAccessReader {
  constructor(private readonly artifact: Artifact) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    this.artifact.open({ start, end: end - 1 }).then(
      (stream) => stream.pipe(out),
      (err: Error) => out.destroy(err),
    );
    return out;
  }
}

/** The `<name>.dist-info/METADATA` of a stored wheel (PEP 427), or an error when the wheel is not a valid zip with one. */
export async function readWheelMetadata(artifact: Artifact): Promise<Buffer> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromRandomAccessReader(new ArtifactReader(artifact), artifact.size!, { lazyEntries: true, autoClose: false }, (err, file) =>
      err ? reject(err) : resolve(file),
    ),
  );
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => reject(new Error('the wheel has no .dist-info/METADATA')));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) {
          zip.readEntry();
          return;
        }
        zip.openReadStream(entry, (err, stream) => {
          if (err) reject(err);
          else readAll(stream, MAX_METADATA_BYTES).then(resolve, reject);
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/** The header fields of a core metadata file (RFC 822 style, as PEP 566 describes), lower-case keys, repeated keys collected. */
export function parseCoreMetadata(text: string): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // the body (long description) follows the first empty line
    if (/^[ \t]/.test(line) && last) {
      const values = fields[last]!;
      values[values.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    (fields[last] ??= []).push(line.slice(colon + 1).trim());
  }
  return fields;
}
