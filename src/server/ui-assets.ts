import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShelfError, notFound } from '../errors.js';
import { allowMethods, type RequestContext } from '../http/request-context.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** Everything the page loads comes from this Shelf; nothing it shows may frame it or send it elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The web UI (`ui/`, built by `npm run build` into dist/ui): a few hundred KB, held in memory. Files under
 * `/ui/assets/` carry their content hash in their names and are cached for good; every other path below
 * `/ui/` is a page of the app, answered with index.html, which is revalidated each time.
 */
export class UiAssets {
  private constructor(
    private readonly assets: Map<string, Asset>,
    private readonly page: Asset | undefined,
  ) {}

  /** From the package's dist/ui, whether this module runs compiled (dist/server) or as source under test (src/server). */
  static async load(dir = fileURLToPath(new URL('../../dist/ui/', import.meta.url))): Promise<UiAssets> {
    const assets = new Map<string, Asset>();
    const read = async (file: string): Promise<Asset> => {
      const body = await readFile(join(dir, file));
      return { body, type: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    };
    const files = await readdir(join(dir, 'assets')).catch(() => [] as string[]);
    for (const file of files) assets.set(file, await read(join('assets', file)));
    const page = await read('index.html').catch(() => undefined);
    return new UiAssets(assets, page);
  }

  serve(ctx: RequestContext, segments: string[]): void {
    allowMethods(ctx, ['GET', 'HEAD']);
    if (!this.page) throw new ShelfError('NOT_FOUND', 404, 'the web UI is not built: run `npm run build`');
    if (segments.length === 0) {
      // `/ui` without the slash: the page's relative links need the folder.
      ctx.res.writeHead(308, { location: '/ui/' }).end();
      return;
    }
    if (segments[0] === 'assets') {
      const asset = segments.length === 2 ? this.assets.get(segments[1]!) : undefined;
      if (!asset) throw notFound(`/ui/${segments.join('/')}`);
      return send(ctx, asset, 'public, max-age=31536000, immutable');
    }
    send(ctx, this.page, 'no-cache');
  }
}

function send(ctx: RequestContext, asset: Asset, cacheControl: string): void {
  const headers = { ...SECURITY_HEADERS, 'content-type': asset.type, etag: asset.etag, 'cache-control': cacheControl };
  if (ctx.req.headers['if-none-match'] === asset.etag) {
    ctx.res.writeHead(304, headers).end();
    return;
  }
  ctx.res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : asset.body);
  ctx.access.bytes += asset.body.length;
}
