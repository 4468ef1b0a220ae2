import { z } from 'zod';
import { parseByteSize } from './byte-size.js';

/** Repository keys that would shadow Shelf's own URL space (`/v2/`, `/api/`, `/-/`). */
export const RESERVED_REPO_KEYS = ['v2', 'api', '-', 'ui', 'favicon.ico', 'metrics'];

/** Formats this build implements; docker, npm, pypi and maven join as they land. */
export const FORMATS = ['generic'] as const;

const byteSize = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const bytes = parseByteSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a size: "${value}" (use bytes or e.g. "512MiB", "10GiB")` });
    return z.NEVER;
  }
  return bytes;
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

const localRepo = z.strictObject({
  ...common,
  type: z.literal('local'),
  /** false: a path, once written, cannot be overwritten with different content (the release-repo rule). */
  allowRedeploy: z.boolean().default(true),
  allowDelete: z.boolean().default(true),
});

const remoteRepo = z.strictObject({
  ...common,
  type: z.literal('remote'),
  url: z.url({ protocol: /^https?$/ }),
  auth: upstreamAuth.optional(),
  /** How long mutable content (indexes, tags, metadata) is served before it is revalidated upstream. */
  metadataTtlSeconds: z.number().int().nonnegative().default(300),
  /** How long an upstream 404 is remembered. */
  negativeCacheTtlSeconds: z.number().int().nonnegative().default(60),
  /** Serve only what is already cached; never contact the upstream. */
  offline: z.boolean().default(false),
  /** After a connection failure or 5xx, the upstream is not asked again for this long (cache is served). */
  assumedOfflineSeconds: z.number().int().nonnegative().default(30),
  includes: z.array(z.string().min(1)).default(['**']),
  excludes: z.array(z.string().min(1)).default([]),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** Time allowed for the upstream's response headers and between body chunks. */
  readTimeoutMs: z.number().int().positive().default(30_000),
});

const virtualRepo = z.strictObject({
  ...common,
  type: z.literal('virtual'),
  members: z.array(repoKey).min(1),
  defaultDeployRepo: repoKey.optional(),
});

export const repositorySchema = z.discriminatedUnion('type', [localRepo, remoteRepo, virtualRepo]);

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Worker processes; 0 means one per CPU. 1 runs everything in a single process. */
      workers: z.number().int().nonnegative().default(0),
      /** The URL clients reach Shelf at, when it differs from the Host header (behind a proxy). */
      baseUrl: z.url().optional(),
      /** Honour X-Forwarded-Proto / X-Forwarded-Host from a reverse proxy. */
      trustProxy: z.boolean().default(false),
      maxUploadBytes: byteSize.default(10 * 1024 ** 3),
      shutdownGraceSeconds: z.number().int().positive().default(30),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** Relative paths are resolved against the directory Shelf is started from. */
      dataDir: z.string().min(1).default('./data'),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  repositories: z.array(repositorySchema).default([]),
});

export type ShelfConfig = z.output<typeof configSchema>;
export type RepositoryConfig = z.output<typeof repositorySchema>;
export type LocalRepoConfig = z.output<typeof localRepo>;
export type RemoteRepoConfig = z.output<typeof remoteRepo>;
export type VirtualRepoConfig = z.output<typeof virtualRepo>;
export type SecretRef = z.output<typeof secretRef>;
export type UpstreamAuthConfig = z.output<typeof upstreamAuth>;
export type Format = (typeof FORMATS)[number];
