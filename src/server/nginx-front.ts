import type { ShelfConfig } from '../config/schema.js';
import { storagePaths } from '../app.js';
import { blobDirOf } from '../storage/blob-store.js';

/**
 * Headers of a blob answer that nginx drops when it follows X-Accel-Redirect (it keeps the content type,
 * disposition, caching and ranges headers), so its internal location adds them back from Shelf's answer.
 */
const HANDED_OFF_HEADERS = [
  'ETag',
  'Last-Modified',
  'X-Checksum-Sha256',
  'X-Checksum-Sha1',
  'X-Checksum-Md5',
  'X-Shelf-Cache',
  'Warning',
  'Docker-Content-Digest',
  'Docker-Distribution-Api-Version',
];

export interface NginxFrontOptions {
  /** nginx's `listen` parameter: a port, or address:port. */
  listen: string;
  configFile: string;
}

/**
 * The nginx site for a front nginx: it proxies every request to Shelf unbuffered (uploads and misses stream
 * both ways) and, when Shelf answers with X-Accel-Redirect, sends the named blob file itself with sendfile.
 */
export function nginxFrontSite(config: ShelfConfig, options: NginxFrontOptions): string {
  const location = config.server.xAccelLocation;
  if (!location) throw new Error('set server.xAccelLocation in the config first (for example /_shelf/blobs/), and server.trustProxy: true');
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  const headerName = (name: string) => name.toLowerCase().replaceAll('-', '_');
  return `# Written by \`shelf service nginx-front\` from ${options.configFile}; write it again after changing the
# data directory, the port or server.xAccelLocation. nginx's user must be able to read the blob files:
# usermod -aG shelf www-data (the service's files are group-readable, UMask=0027).
upstream shelf {
    server ${host}:${config.server.port};
    keepalive 64;
}

server {
    listen ${options.listen};
    client_max_body_size 0;

    location / {
        proxy_pass http://shelf;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        # Tells Shelf that this nginx can send verified blobs itself.
        proxy_set_header X-Sendfile-Type X-Accel-Redirect;
        proxy_request_buffering off;
        proxy_buffering off;
        # What nginx passes on per read; its 4k default made a 1 MiB answer four times slower.
        proxy_buffer_size 64k;
        proxy_buffers 4 64k;
        proxy_busy_buffers_size 64k;
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
    }

    location ${location} {
        internal;
        alias ${blobDirOf(storagePaths(config).blobs)}/;
        sendfile on;
        tcp_nopush on;
${HANDED_OFF_HEADERS.map((name) => `        add_header ${name} $upstream_http_${headerName(name)};`).join('\n')}
    }
}
`;
}
