import { createHash } from 'node:crypto';
import { blake2b } from '@noble/hashes/blake2b';
import busboy from 'busboy';
import { badRequest, ShelfError } from '../../errors.js';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalRepo } from '../../repos/local-repo.js';
import type { CompleteBlob } from '../../storage/blob-store.js';
import type { UploadSession, UploadSessions } from '../../storage/upload-sessions.js';
import { checkDistFile, checkProject, normalizeProject, pypiPaths, versionOfFile } from './names.js';
import type { HostedFile } from './project-view.js';
import { parseCoreMetadata, readWheelMetadata } from './wheel-metadata.js';

/** Upload-form fields kept for the JSON API's `info` (the names PyPI's JSON API uses). */
const INFO_FIELDS = ['summary', 'author', 'author_email', 'maintainer', 'maintainer_email', 'license', 'home_page', 'keywords', 'description_content_type'];

const fileExists = () => new ShelfError('FILE_EXISTS', 400, 'File already exists.');

interface ParsedUpload {
  fields: Record<string, string[]>;
  filename: string;
  blake2: string;
  session: UploadSession;
}

/**
 * The legacy upload API twine uses: `POST /<repo>/`, multipart/form-data with `:action=file_upload`, the
 * metadata fields, the digests and the file as `content`. The file streams to disk while it is hashed;
 * it is kept only when its sha256, md5 and blake2b-256 match what the client declared, its name fits the
 * project and version, and no file of that name exists. A wheel's METADATA is stored beside it (PEP 658).
 */
export async function uploadFile(
  ctx: RequestContext,
  target: LocalRepo,
  uploads: UploadSessions,
  maxBytes: number,
  /** Throws unless the caller may upload to the project the form names. */
  authorizeProject: (project: string) => Promise<unknown>,
): Promise<string> {
  const upload = await receive(ctx, uploads, maxBytes);
  try {
    return await store(upload, target, uploads, authorizeProject);
  } finally {
    await uploads.cancel(upload.session.id).catch(() => undefined);
  }
}

async function receive(ctx: RequestContext, uploads: UploadSessions, maxBytes: number): Promise<ParsedUpload> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: ctx.req.headers, preservePath: true, limits: { files: 1, fields: 200, fieldSize: 1024 * 1024, fileSize: maxBytes } });
  } catch {
    throw badRequest('an upload is multipart/form-data');
  }
  const session = await uploads.start('pypi-upload', ctx.access.user ?? null);
  const fields: Record<string, string[]> = {};
  const received: { file?: Promise<{ filename: string; blake2: string }> } = {};
  try {
    await new Promise<void>((resolve, reject) => {
      parser.on('field', (name, value) => (fields[name] ??= []).push(value));
      parser.on('file', (name, stream, info) => {
        if (name !== 'content') {
          stream.resume();
          return;
        }
        const file = (received.file = (async () => {
          const hash = blake2b.create({ dkLen: 32 });
          let truncated = false;
          stream.on('limit', () => (truncated = true));
          async function* hashed() {
            for await (const chunk of stream) {
              hash.update(chunk as Buffer);
              yield chunk as Buffer;
            }
          }
          await uploads.append(session, hashed(), maxBytes);
          if (truncated) throw new ShelfError('TOO_LARGE', 413, `the file exceeds the limit of ${maxBytes} bytes`);
          return { filename: info.filename ?? '', blake2: Buffer.from(hash.digest()).toString('hex') };
        })());
        file.catch(() => stream.resume());
      });
      parser.on('error', (err: Error) => reject(badRequest(`malformed multipart body: ${err.message}`)));
      parser.on('close', resolve);
      ctx.req.on('error', reject);
      ctx.req.pipe(parser);
    });
    if (!received.file) throw badRequest('the upload has no file (the form field "content")');
    return { fields, session, ...(await received.file) };
  } catch (err) {
    await uploads.cancel(session.id).catch(() => undefined);
    throw err;
  }
}

async function store(
  upload: ParsedUpload,
  target: LocalRepo,
  uploads: UploadSessions,
  authorizeProject: (project: string) => Promise<unknown>,
): Promise<string> {
  const field = (name: string) => upload.fields[name]?.[0]?.trim();
  if (field(':action') !== 'file_upload') throw badRequest(`unsupported :action ${field(':action') ?? '(none)'}`);
  const name = checkProject(field('name') ?? '');
  const project = normalizeProject(name);
  await authorizeProject(project);
  const filename = checkDistFile(upload.filename);
  const version = field('version');
  const fileVersion = versionOfFile(filename);
  if (!version || !fileVersion || normalizeProject(fileVersion) !== normalizeProject(version)) {
    throw badRequest(`${filename} is not a file of version ${version ?? '(none)'}`);
  }
  if (normalizeProject(filename.slice(0, filename.indexOf(`-${fileVersion}`))) !== project) {
    throw badRequest(`${filename} is not a file of project ${name}`);
  }
  const sha256 = field('sha256_digest')?.toLowerCase();
  const md5 = field('md5_digest')?.toLowerCase();
  const blake2 = field('blake2_256_digest')?.toLowerCase();
  if (!sha256 && !md5 && !blake2) throw badRequest('the upload declares no digest (sha256_digest, md5_digest or blake2_256_digest)');
  if (await target.record(pypiPaths.file(project, filename))) throw fileExists();

  let blob: CompleteBlob;
  try {
    blob = await uploads.finish(upload.session, { ...(sha256 && { sha256 }), ...(md5 && { md5 }) });
  } catch (err) {
    if (err instanceof ShelfError && err.status === 400) throw badRequest(`the file does not match its declared digest: ${err.message}`);
    throw err;
  }
  if (blake2 && blake2 !== upload.blake2) throw badRequest(`blake2_256_digest of the file is ${upload.blake2}, declared ${blake2}`);
  try {
    await target.link(pypiPaths.file(project, filename), blob, 'application/octet-stream');
  } catch (err) {
    if (err instanceof ShelfError && err.status === 409) throw fileExists();
    throw err;
  }

  try {
    const metadata = filename.endsWith('.whl') ? await wheelMetadata(target, project, filename) : undefined;
    const fromMetadata = metadata ? parseCoreMetadata(metadata.toString('utf8')) : {};
    const requiresPython = field('requires_python') || fromMetadata['requires-python']?.[0];
    const info = Object.fromEntries(INFO_FIELDS.flatMap((key) => (field(key) ? [[key, field(key)!]] : [])));
    const record: HostedFile = {
      filename,
      version,
      sha256: blob.sha256,
      md5: blob.md5,
      size: blob.size,
      uploadTime: new Date().toISOString(),
      ...(requiresPython && { requiresPython }),
      ...(metadata && { coreMetadataSha256: createHash('sha256').update(metadata).digest('hex') }),
      info: { name, version, ...info },
    };
    await target.put(pypiPaths.fileRecord(project, filename), [Buffer.from(JSON.stringify(record))], { contentType: 'application/json' });
  } catch (err) {
    // Nothing half-done stays: the file is listed only through its record.
    await target.prune(pypiPaths.file(project, filename)).catch(() => undefined);
    await target.prune(pypiPaths.metadata(project, filename)).catch(() => undefined);
    throw err;
  }
  return `${project}/${filename}`;
}

/** Extracts and stores a wheel's METADATA as its PEP 658 `.metadata` file; an invalid wheel is refused. */
async function wheelMetadata(target: LocalRepo, project: string, filename: string): Promise<Buffer> {
  const wheel = await target.get(pypiPaths.file(project, filename));
  let metadata: Buffer;
  try {
    metadata = await readWheelMetadata(wheel!);
  } catch (err) {
    throw badRequest(`${filename} is not a valid wheel: ${(err as Error).message}`);
  }
  await target.put(pypiPaths.metadata(project, filename), [metadata], { contentType: 'text/plain; charset=utf-8' });
  return metadata;
}
