import { Cron } from 'croner';
import { z } from 'zod';
import { parseByteSize } from './byte-size.js';
import { permissionTargetSchema } from '../security/permissions.js';

/** Repository keys that would shadow Shelf's own URL space (`/v2/`, `/api/`, `/-/`). */
export const RESERVED_REPO_KEYS = ['v2', 'api', '-', 'ui', 'favicon.ico', 'metrics'];

/** Formats this build implements. */
export const FORMATS = ['generic', 'docker', 'npm', 'pypi', 'maven'] as const;

/** Options that only mean something for some formats, checked by config/load.ts. */
export const FORMAT_OPTIONS: Record<string, Format[]> = {
  immutableTags: ['docker'],
  maxUniqueTags: ['docker'],
  tagTtlSeconds: ['docker'],
  resolveDockerTagsByTimestamp: ['docker'],
  packageRoutes: ['npm', 'pypi'],
  versionPolicy: ['maven'],
  maxUniqueSnapshots: ['maven'],
  retention: ['npm', 'pypi', 'maven'],
};

const byteSize = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const bytes = parseByteSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a size: "${value}" (use bytes or e.g. "512MiB", "10GiB")` });
    return z.NEVER;
  }
  return bytes;
});

/** A cron expression (five fields, or six with seconds), checked when the config is loaded. */
const cronSchedule = z.string().superRefine((value, ctx) => {
  try {
    new Cron(value, { paused: true }).stop();
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a cron schedule: ${(err as Error).message}` });
  }
});

/** A secret is never written inline: it is read from an environment variable or a file at start-up. */
const secretRef = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);

const upstreamAuth = z.union([
  z.strictObject({ username: z.string().min(1), password: secretRef }),
  z.strictObject({ token: secretRef }),
]);

const repoKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((key) => !RESERVED_REPO_KEYS.includes(key), { message: `reserved (${RESERVED_REPO_KEYS.join(', ')})` });

const common = {
  key: repoKey,
  format: z.enum(FORMATS),
  description: z.string().optional(),
};

/**
 * A retention policy of a hosted repository: versions of the packages it matches go when they are not
 * among the newest `keepLastVersions` (by version order) and, when both are given, also older than
 * `deleteOlderThanDays`.
 */
const retentionPolicy = z
  .strictObject({
    /** Named in the audit log of every deletion it makes. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-"'),
    /** Package patterns (npm names, PyPI projects, Maven `group/path/artifactId`); `*` within a segment, `**` across. */
    packages: z.array(z.string().min(1)).default(['**']),
    excludePackages: z.array(z.string().min(1)).default([]),
    keepLastVersions: z.number().int().positive().optional(),
    deleteOlderThanDays: z.number().positive().optional(),
  })
  .refine((p) => p.keepLastVersions !== undefined || p.deleteOlderThanDays !== undefined, {
    message: 'give keepLastVersions, deleteOlderThanDays or both',
  });

const localRepo = z.strictObject({
  ...common,
  type: z.literal('local'),
  /** false: a path, once written, cannot be overwritten with different content (the release-repo rule). */
  allowRedeploy: z.boolean().default(true),
  allowDelete: z.boolean().default(true),
  /** Docker: a pushed tag cannot be moved to another digest (the release-repo rule for images). */
  immutableTags: z.boolean().optional(),
  /** Docker: per image, the oldest tags beyond this many are removed on push; 0 keeps all. */
  maxUniqueTags: z.number().int().nonnegative().optional(),
  /**
   * Maven: which versions the repository takes. `release`: release versions only, each deployed once;
   * `snapshot`: SNAPSHOT versions only; `mixed`: both (releases still deployed once).
   */
  versionPolicy: z.enum(['release', 'snapshot', 'mixed']).optional(),
  /** Maven: per SNAPSHOT version, the oldest timestamped builds beyond this many are removed on deploy; 0 keeps all. */
  maxUniqueSnapshots: z.number().int().nonnegative().optional(),
  /** The most the repository may hold ("10GiB"); a deploy that would pass it is refused (413) before it is stored. */
  quotaBytes: byteSize.optional(),
  /** npm, PyPI, Maven releases: which versions are deleted on the retention schedule. */
  retention: z.array(retentionPolicy).optional(),
});

const remoteRepo = z.strictObject({
  ...common,
  type: z.literal('remote'),
  url: z.url({ protocol: /^https?$/ }),
  auth: upstreamAuth.optional(),
  /** How long mutable content (indexes, tags, metadata) is served before it is revalidated upstream. */
  metadataTtlSeconds: z.number().int().nonnegative().default(300),
  /** Docker: how long a cached tag is served before it is revalidated (with a HEAD). */
  tagTtlSeconds: z.number().int().nonnegative().optional(),
  /**
   * How long a request for expired content (metadata, tags) waits for its revalidation before the cached copy
   * is served, marked STALE; the revalidation goes on, and its answer serves the requests after it.
   */
  revalidateWaitMs: z.number().int().nonnegative().default(2000),
  /** How long an upstream 404 is remembered. */
  negativeCacheTtlSeconds: z.number().int().nonnegative().default(60),
  /** Serve only what is already cached; never contact the upstream. */
  offline: z.boolean().default(false),
  /**
   * What cached metadata (packuments, project pages) lists while it is served without the upstream (offline,
   * unreachable): `present-only`, the versions and files this repository holds, so clients resolve to what
   * they can download; `as-cached`, everything the upstream listed when it was cached.
   */
  offlineMetadata: z.enum(['present-only', 'as-cached']).default('present-only'),
  /** After a connection failure or 5xx, the upstream is not asked again for this long (cache is served). */
  assumedOfflineSeconds: z.number().int().nonnegative().default(30),
  includes: z.array(z.string().min(1)).default(['**']),
  excludes: z.array(z.string().min(1)).default([]),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /**
   * Time allowed for the upstream's response headers (including the wait for a free connection to it) and
   * between body chunks.
   */
  readTimeoutMs: z.number().int().positive().default(30_000),
  /** A body arriving slower than this on average over 30 s is abandoned (a trickle would hold a connection for ever). */
  minBytesPerSecond: z.number().int().nonnegative().default(1024),
  /** The longest one upstream fetch may take from request to last byte. */
  fetchDeadlineSeconds: z.number().int().positive().default(3600),
  /** A fetch that no request has waited for (every client left) for this long is stopped, and nothing cached. */
  abandonedFetchSeconds: z.number().int().positive().default(30),
  /** How much of the upstream is kept; what is evicted is fetched again when asked for. */
  cache: z
    .strictObject({
      /** The most this cache holds: past storage.cacheEviction's high watermark of it, least recently downloaded files go. */
      maxBytes: byteSize.optional(),
      /** Files not downloaded for this many days go (Artifactory's "keep unused artifacts"). */
      evictUnusedAfterDays: z.number().positive().optional(),
    })
    .prefault({}),
});

const virtualRepo = z.strictObject({
  ...common,
  type: z.literal('virtual'),
  members: z.array(repoKey).min(1),
  defaultDeployRepo: repoKey.optional(),
  /** Docker: a tag resolves to the member that pushed it most recently, not to the first member that has it. */
  resolveDockerTagsByTimestamp: z.boolean().optional(),
  /**
   * npm, pypi: packages matching a pattern (`@mycompany/**`, `mycompany-*`) resolve only from the members listed, whatever the
   * other members hold. The first route whose pattern matches applies.
   */
  packageRoutes: z
    .array(z.strictObject({ packages: z.array(z.string().min(1)).min(1), members: z.array(repoKey).min(1) }))
    .optional(),
});

export const repositorySchema = z.discriminatedUnion('type', [localRepo, remoteRepo, virtualRepo]);

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Worker processes; 0 means one per CPU. 1 runs everything in a single process. */
      workers: z.number().int().nonnegative().default(0),
      /**
       * `edge`: a read-only Shelf that serves what bundles (shelf import, POST /api/import) and replication
       * bring, and refuses every deploy, delete and annotation with a message that says so.
       */
      mode: z.enum(['standard', 'edge']).default('standard'),
      /**
       * This node's name among several sharing one index (GET /api/system/nodes). Default: the host name and
       * port, which tells apart nodes on different hosts and on one.
       */
      nodeId: z.string().regex(/^[\w.:-]{1,128}$/, 'letters, digits, ".", ":", "_" and "-"').optional(),
      /** The URL clients reach Shelf at, when it differs from the Host header (behind a proxy). */
      baseUrl: z.url().optional(),
      /** Honour X-Forwarded-Proto / X-Forwarded-Host from a reverse proxy. */
      trustProxy: z.boolean().default(false),
      /**
       * The internal location at which a front nginx serves the blob directory (`shelf service nginx-front`
       * writes its site). Large blobs this process has verified and that are unchanged since are then
       * answered with `X-Accel-Redirect`, and nginx sends the file with sendfile. Only requests that arrive
       * with `X-Sendfile-Type: X-Accel-Redirect` (set by that nginx) are answered so.
       */
      xAccelLocation: z.string().regex(/^\/[\w/-]*\/$/, 'a path that starts and ends with /').optional(),
      maxUploadBytes: byteSize.default(10 * 1024 ** 3),
      shutdownGraceSeconds: z.number().int().positive().default(30),
      /** A connection must have sent a request's headers within this (slow-header attacks hold sockets open). */
      headersTimeoutSeconds: z.number().int().positive().default(30),
      /** A socket with no traffic either way for this long is closed (long transfers keep moving, so stay open). */
      idleTimeoutSeconds: z.number().int().positive().default(300),
      /** Open connections one serving process accepts; further ones are closed at once. */
      maxConnectionsPerWorker: z.number().int().positive().default(4096),
      /** How often the primary checks that every worker still answers and can open files; 3 missed: replaced. */
      workerHealthCheckSeconds: z.number().int().positive().default(10),
      /** An HTTPS listener beside the HTTP one; the files are read again on SIGHUP. */
      tls: z
        .strictObject({
          port: z.number().int().min(0).max(65535).default(8443),
          certFile: z.string().min(1),
          keyFile: z.string().min(1),
          /** Answer every plain-HTTP request with a redirect to HTTPS. */
          redirectHttp: z.boolean().default(false),
          /** Strict-Transport-Security on HTTPS answers; 0 sends none. */
          hstsMaxAgeSeconds: z.number().int().nonnegative().default(31_536_000),
        })
        .optional(),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** Relative paths are resolved against the directory Shelf is started from. */
      dataDir: z.string().min(1).default('./data'),
      /**
       * Where the metadata index lives: `sqlite` (a file in dataDir, one node) or `postgres` (several nodes
       * sharing one database and one dataDir; see docs/operations.md, "High availability").
       */
      index: z
        .discriminatedUnion('type', [
          z.strictObject({ type: z.literal('sqlite') }),
          z.strictObject({
            type: z.literal('postgres'),
            /** A libpq connection string. One that holds a password comes from a secret ({ env } or { file }), never inline. */
            url: z.union([
              z
                .string()
                .regex(/^postgres(ql)?:\/\//, 'a postgres:// connection string')
                .refine((url) => !/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(url), {
                  message: 'the connection string holds a password: give it as { env: NAME } or { file: PATH }',
                }),
              secretRef,
            ]),
            /** Connections each process (every worker, and the primary) may hold. */
            poolSize: z.number().int().positive().default(10),
            /** The longest wait for a connection; requests then fail with 503 INDEX_UNAVAILABLE. */
            connectTimeoutSeconds: z.number().positive().default(5),
            /** The longest any one statement may run. */
            statementTimeoutSeconds: z.number().positive().default(60),
          }),
        ])
        .default({ type: 'sqlite' }),
      /**
       * Where blobs are kept: `filesystem` (dataDir/blobs, which several nodes may share over NFS) or `s3` (a
       * bucket on AWS or an S3-compatible server). Temp files, uploads in progress and keys stay in dataDir.
       */
      blobs: z
        .discriminatedUnion('type', [
          z.strictObject({ type: z.literal('filesystem') }),
          z.strictObject({
            type: z.literal('s3'),
            bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)'),
            /** Put before every key, e.g. `shelf/`; empty: the bucket is Shelf's alone. */
            prefix: z.string().regex(/^([\w.-]+\/)*$/, 'empty, or path segments each ending with /').default(''),
            region: z.string().min(1).default('us-east-1'),
            /** An S3-compatible server's URL (Ceph RGW, MinIO...); none: AWS's endpoint for the region. */
            endpoint: z.url({ protocol: /^https?$/ }).optional(),
            /** Bucket in the path, not the host name: what most S3-compatible servers expect. */
            forcePathStyle: z.boolean().default(false),
            /** Both or neither; neither: the AWS SDK's default chain (AWS_* environment, shared files, instance role). */
            accessKeyId: z.union([z.string().min(1), secretRef]).optional(),
            secretAccessKey: secretRef.optional(),
            /** The longest any request waits for an answer or goes without progress. */
            requestTimeoutSeconds: z.number().positive().default(60),
            /** Blobs larger than this are uploaded in parts of this size (at least 5 MiB, S3's minimum). */
            partSize: byteSize.default(16 * 1024 * 1024).refine((bytes) => bytes >= 5 * 1024 * 1024, 'at least 5 MiB'),
          }),
        ])
        .refine((blobs) => blobs.type !== 's3' || (blobs.accessKeyId === undefined) === (blobs.secretAccessKey === undefined), {
          message: 'give both accessKeyId and secretAccessKey, or neither',
        })
        .default({ type: 'filesystem' }),
      /** Resumable uploads (Docker blob uploads) that receive no data for this many seconds are refused and removed. */
      uploadExpirySeconds: z.number().int().positive().default(86_400),
      /** Uploads one user (or all anonymous callers together) may have open at once. */
      maxUploadSessionsPerUser: z.number().int().positive().default(100),
      /**
       * Below this much free space on the data disk, nothing new is stored (507) and /-/readyz reports not
       * ready; stored content is still served. Default: 5% of the filesystem, at most 2 GiB.
       */
      minFreeBytes: byteSize.optional(),
      /** The most all remote repositories' caches together hold (see cacheEviction); hosted content is never evicted. */
      maxCacheBytes: byteSize.optional(),
      /**
       * Memory each serving process keeps for small files (up to 1 MiB) it has read and verified, served
       * again without touching the disk; 0 turns it off. Counts toward the per-worker memory budget.
       */
      memoryCacheBytes: byteSize.default(64 * 1024 * 1024),
      /**
       * A large file streamed whole and found to hash right is streamed unhashed for this long while its
       * inode, size, mtime and ctime are unchanged (any write changes them); 0 hashes every whole read.
       */
      trustVerifiedSeconds: z.number().int().nonnegative().default(3600),
      cacheEviction: z
        .strictObject({
          /** Eviction starts when a cache passes this share of its limit (cache.maxBytes, maxCacheBytes)... */
          highWatermarkPercent: z.number().min(1).max(100).default(90),
          /** ...and removes least recently downloaded files until it is down to this share. */
          lowWatermarkPercent: z.number().min(0).max(100).default(75),
          /** How often every cache is checked (limits, unused files), besides right after a cache stores a file. */
          intervalSeconds: z.number().int().positive().default(300),
        })
        .refine((marks) => marks.lowWatermarkPercent < marks.highWatermarkPercent, {
          message: 'lowWatermarkPercent must be below highWatermarkPercent',
        })
        .prefault({}),
      /** Retention policies of hosted repositories (their `retention`). */
      retention: z
        .strictObject({
          /** When they are applied (cron, local time); false: only when asked (`shelf retention`, POST /api/system/retention). */
          schedule: z.union([cronSchedule, z.literal(false)]).default('0 3 * * *'),
        })
        .prefault({}),
      /** Garbage collection of blobs nothing refers to any more. */
      gc: z
        .strictObject({
          /** When it runs by itself (cron, local time); false: only when asked (`shelf gc`, POST /api/system/gc). */
          schedule: z.union([cronSchedule, z.literal(false)]).default('30 3 * * *'),
          /** A blob written less than this long ago is never removed (it may belong to a write still under way). */
          graceSeconds: z.number().int().nonnegative().default(3600),
        })
        .prefault({}),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  docker: z
    .strictObject({
      /**
       * Answers /v2/<name> when <name>'s first component is not a repository key, so a Docker daemon's
       * `registry-mirrors` (which asks for /v2/library/nginx/...) can point at Shelf's root.
       */
      defaultRepository: repoKey.optional(),
      gc: z
        .strictObject({
          /** Garbage collection also removes manifests of hosted repositories that no tag leads to. */
          deleteUntagged: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  security: z
    .strictObject({
      /** Who may do what where. Targets made through the REST API or CLI are kept in the index beside these. */
      permissions: z.array(permissionTargetSchema).default([]),
      /** The password of the `admin` user made on first start; generated and printed once when absent. */
      initialAdminPassword: secretRef.optional(),
      /** Where the Docker token service's signing key is kept; made on first start. Default: <dataDir>/security/jwt.key. */
      signingKeyFile: z.string().min(1).optional(),
      /** Lifetime of the Docker token service's bearer tokens. */
      dockerTokenTtlSeconds: z.number().int().positive().default(300),
      /** How long a web UI sign-in lasts; signing out ends it sooner. */
      sessionTtlSeconds: z.number().int().positive().default(12 * 3600),
      /** Failed logins counted per user name and per client address; beyond the limit, logins wait for the window. */
      loginThrottle: z
        .strictObject({
          /** Failed password attempts for one user from one address before each next one waits (1 s, 2 s, 4 s, …). */
          maxFailuresPerUser: z.number().int().positive().default(5),
          /** The same for all attempts from one address (password guesses spread over many user names). */
          maxFailuresPerAddress: z.number().int().positive().default(30),
          /** Failures older than this are forgotten. */
          windowSeconds: z.number().int().positive().default(900),
          /** The longest wait between attempts once backing off. */
          maxDelaySeconds: z.number().int().positive().default(300),
        })
        .prefault({}),
      /** The audit log (JSON lines). Default: <dataDir>/logs/audit.log. */
      auditLog: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Air-gapped seeding: signed bundles (`shelf export`, `shelf import`). */
  bundles: z
    .strictObject({
      /** The Ed25519 key `shelf export` signs with (`shelf keys create`). Default: <dataDir>/security/bundle-signing.key. */
      signingKeyFile: z.string().min(1).optional(),
      /** Public keys (PEM files, from `shelf keys export-public` on the exporting side) whose bundles `shelf import` accepts. */
      trustedKeys: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /**
   * Replication with other Shelf appliances over HTTP, as signed incremental bundles: `pull` asks `url` for
   * what changed in `repositories` since the last bundle it applied (the source's key must be in
   * bundles.trustedKeys); `push` sends what changed here to `url`'s /api/import (this Shelf's key must be
   * trusted there). Each runs every `intervalSeconds`, resumes from its last applied bundle, and shows its
   * state in /api/replication.
   */
  replication: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
        direction: z.enum(['pull', 'push']).default('pull'),
        url: z.url(),
        /** The other side's credentials: a user's password or an API token (read there for pull; an administrator's for push). */
        auth: upstreamAuth.optional(),
        /** The same keys on both sides. */
        repositories: z.array(repoKey).min(1),
        intervalSeconds: z.number().int().positive().default(300),
        /** Pull only: after each run, what the source no longer holds is deleted here too (the target mirrors it). */
        deletes: z.boolean().default(false),
      }),
    )
    .default([]),
  repositories: z.array(repositorySchema).default([]),
});

export type ShelfConfig = z.output<typeof configSchema>;
export type RepositoryConfig = z.output<typeof repositorySchema>;
export type LocalRepoConfig = z.output<typeof localRepo>;
export type RemoteRepoConfig = z.output<typeof remoteRepo> & {
  /** Set by the loader when `url` names environment variables that are unset: the repository is not configured. */
  unsetVariables?: string[];
};
export type VirtualRepoConfig = z.output<typeof virtualRepo>;
export type RetentionPolicy = z.output<typeof retentionPolicy>;
export type SecretRef = z.output<typeof secretRef>;
export type UpstreamAuthConfig = z.output<typeof upstreamAuth>;
export type Format = (typeof FORMATS)[number];
export type SecurityConfig = ShelfConfig['security'];
export type TlsConfig = NonNullable<ShelfConfig['server']['tls']>;
