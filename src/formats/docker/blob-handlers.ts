import { ShelfError } from '../../errors.js';
import { firstValue } from '../../header-values.js';
import { requestBody } from '../../http/request-body.js';
import { sendArtifact } from '../../http/send-artifact.js';
import type { UploadSession } from '../../storage/upload-sessions.js';
import { deployTarget } from '../../repos/deploy-target.js';
import { registryUrl, rethrowNotFound, type ImageTarget, type RegistryRequest } from './image-target.js';
import { checkDigest, dockerPaths, hexOf } from './names.js';

const OCTET_STREAM = 'application/octet-stream';

const blobUnknown = (digest: string) => new ShelfError('BLOB_UNKNOWN', 404, `blob ${digest} is not in this repository`);
const uploadUnknown = (id: string) => new ShelfError('BLOB_UPLOAD_UNKNOWN', 404, `upload ${id} is unknown or has expired`);

export async function getBlob({ ctx, target, services }: RegistryRequest, rawDigest: string): Promise<void> {
  const digest = checkDigest(rawDigest);
  const artifact = await target.repo.get(dockerPaths.blob(target.image, digest), { expect: { sha256: hexOf(digest) } });
  if (!artifact) throw blobUnknown(digest);
  await sendArtifact(ctx, artifact, {
    headers: { 'docker-content-digest': digest },
    onDownload: () => services.downloads.record(artifact),
  });
}

export async function deleteBlob({ ctx, target }: RegistryRequest, rawDigest: string): Promise<void> {
  const digest = checkDigest(rawDigest);
  await target.repo.delete(dockerPaths.blob(target.image, digest)).catch(rethrowNotFound(() => blobUnknown(digest)));
  ctx.res.writeHead(202, { 'content-length': 0 }).end();
}

/**
 * POST …/blobs/uploads/: a cross-repository mount (links a blob the source image has, no bytes copied), a
 * monolithic upload (`?digest=` with the body), or the start of a resumable upload session.
 */
export async function startUpload(request: RegistryRequest, resolve: (name: string) => Promise<ImageTarget | undefined>): Promise<void> {
  const { ctx, target, services } = request;
  const repo = deployTarget(target.repo, 'push');
  const params = ctx.url.searchParams;
  const mount = params.get('mount');
  const from = params.get('from');
  if (mount !== null && from !== null) {
    const digest = checkDigest(mount);
    const source = await resolve(from).catch(() => undefined);
    const record = source && (await source.repo.record(dockerPaths.blob(source.image, digest)));
    if (record) {
      await repo.link(dockerPaths.blob(target.image, digest), record.blob, record.contentType);
      return blobCreated(request, digest);
    }
  }
  const monolithic = params.get('digest');
  if (monolithic !== null) {
    const digest = checkDigest(monolithic);
    const maxBytes = services.config.server.maxUploadBytes;
    await repo.put(dockerPaths.blob(target.image, digest), requestBody(ctx, maxBytes), {
      contentType: OCTET_STREAM,
      expect: { sha256: hexOf(digest) },
      maxBytes,
    });
    return blobCreated(request, digest);
  }
  const session = await services.uploads.start(uploadOwner(target), ctx.access.user ?? null);
  sendUploadStatus(request, session, 202);
}

/** PATCH: one chunk, which must start where the upload stands (Content-Range, when given). */
export async function appendChunk(request: RegistryRequest, id: string): Promise<void> {
  const session = await requireSession(request, id);
  session.size = await appendBody(request, session);
  sendUploadStatus(request, session, 202);
}

/** PUT ?digest=: the last chunk (if any), then the whole upload verified against the digest and stored. */
export async function finishUpload(request: RegistryRequest, id: string): Promise<void> {
  const { ctx, target, services } = request;
  const repo = deployTarget(target.repo, 'push');
  const digest = checkDigest(ctx.url.searchParams.get('digest'));
  const session = await requireSession(request, id);
  session.size = await appendBody(request, session);
  const blob = await services.uploads.finish(session, { sha256: hexOf(digest) });
  await repo.link(dockerPaths.blob(target.image, digest), blob, OCTET_STREAM);
  blobCreated(request, digest);
}

export async function uploadStatus(request: RegistryRequest, id: string): Promise<void> {
  sendUploadStatus(request, await requireSession(request, id), 204);
}

export async function cancelUpload(request: RegistryRequest, id: string): Promise<void> {
  await requireSession(request, id);
  await request.services.uploads.cancel(id);
  request.ctx.res.writeHead(204).end();
}

/** Sessions belong to the repository and image they were started for. */
const uploadOwner = (target: ImageTarget) => `${target.repo.key}/${target.image}`;

async function requireSession({ target, services }: RegistryRequest, id: string): Promise<UploadSession> {
  const session = await services.uploads.get(id, uploadOwner(target));
  if (!session) throw uploadUnknown(id);
  return session;
}

async function appendBody({ ctx, services }: RegistryRequest, session: UploadSession): Promise<number> {
  const range = firstValue(ctx.req.headers['content-range']);
  if (range !== undefined) {
    const match = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(range.trim());
    if (!match) throw new ShelfError('BLOB_UPLOAD_INVALID', 400, `malformed Content-Range "${range}"`);
    const [start, end] = [Number(match[1]), Number(match[2])];
    if (start !== session.size || end < start) {
      throw new ShelfError('BLOB_UPLOAD_INVALID', 416, `chunk ${start}-${end} does not continue the upload at ${session.size}`, {
        range: rangeHeader(session.size),
      });
    }
    const length = ctx.req.headers['content-length'];
    if (length !== undefined && Number(length) !== end - start + 1) {
      throw new ShelfError('BLOB_UPLOAD_INVALID', 400, `Content-Length ${length} does not match Content-Range ${range}`);
    }
  }
  const maxBytes = services.config.server.maxUploadBytes;
  return services.uploads.append(session, requestBody(ctx, maxBytes), maxBytes);
}

/** Distribution's form: the inclusive range received so far, `0-0` when nothing is. */
const rangeHeader = (size: number) => `0-${Math.max(0, size - 1)}`;

function sendUploadStatus({ ctx, target }: RegistryRequest, session: UploadSession, status: number): void {
  ctx.res
    .writeHead(status, {
      location: registryUrl(ctx, target, `blobs/uploads/${session.id}`),
      range: rangeHeader(session.size),
      'docker-upload-uuid': session.id,
      'content-length': 0,
    })
    .end();
}

function blobCreated({ ctx, target }: RegistryRequest, digest: string): void {
  ctx.res
    .writeHead(201, {
      location: registryUrl(ctx, target, `blobs/${digest}`),
      'docker-content-digest': digest,
      'content-length': 0,
    })
    .end();
}
