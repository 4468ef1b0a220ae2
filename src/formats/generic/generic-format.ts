import { RemoteRepo } from '../../repos/remote-repo.js';
import { methodNotAllowed } from '../../errors.js';
import { declaredChecksums, requestBody } from '../../http/request-body.js';
import { sendJson } from '../../http/respond.js';
import { sendArtifact } from '../../http/send-artifact.js';
import { joinPlainSegments } from '../../repos/repo-path.js';
import { fileAccessNeed, type FormatModule } from '../format-module.js';

const OCTET_STREAM = 'application/octet-stream';

/**
 * Any file at any path: raw binaries, tarballs, installers. Nothing is immutable by nature, so a remote
 * generic repository revalidates cached files after `metadataTtlSeconds` (cheaply, with If-None-Match).
 */
export const genericFormat: FormatModule = {
  name: 'generic',

  rules: (config) => ({
    freshForSeconds: () => (config.type === 'remote' ? config.metadataTtlSeconds : null),
    defaultContentType: () => OCTET_STREAM,
    overwritePolicy: () => (config.type === 'local' && !config.allowRedeploy ? 'same-content-only' : 'always'),
  }),

  accessNeed: (method, segments) => fileAccessNeed(method, joinPlainSegments(segments)),
  subjectOf: (path) => path,

  async handle(ctx, repo, segments, { config, downloads }) {
    const path = joinPlainSegments(segments);
    switch (ctx.method) {
      case 'GET':
      case 'HEAD': {
        const artifact = await repo.get(path);
        if (!artifact) throw RemoteRepo.notFound(repo, path, `${repo.key}/${path}`);
        await sendArtifact(ctx, artifact, { onDownload: () => downloads.record(artifact) });
        return;
      }
      case 'PUT': {
        const contentType = ctx.req.headers['content-type'] ?? OCTET_STREAM;
        const record = await repo.put(path, requestBody(ctx, config.server.maxUploadBytes), {
          contentType,
          expect: declaredChecksums(ctx),
          maxBytes: config.server.maxUploadBytes,
        });
        const { sha256, sha1, md5, size } = record.blob;
        sendJson(ctx, 201, {
          repo: record.repo,
          path: record.path,
          size,
          checksums: { sha256, sha1, md5 },
          uri: `${ctx.baseUrl}/${record.repo}/${record.path}`,
        });
        return;
      }
      case 'DELETE':
        await repo.delete(path);
        ctx.res.writeHead(204).end();
        return;
      default:
        throw methodNotAllowed(ctx.method, ['GET', 'HEAD', 'PUT', 'DELETE']);
    }
  },
};
