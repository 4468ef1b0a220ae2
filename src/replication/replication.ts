import { PassThrough } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { storagePaths } from '../app.js';
import { archiveSource, streamSink } from '../bundles/bundle-files.js';
import { exportBundle, type ExportContext } from '../bundles/export.js';
import { importFrom, type ImportSummary } from '../bundles/import-job.js';
import { bundleBytes } from '../bundles/manifest.js';
import { loadSigningKey } from '../bundles/signing.js';
import type { ShelfConfig } from '../config/schema.js';
import { messageOfErrorBody, ShelfError } from '../errors.js';
import { withLease } from '../lifecycle/lease.js';
import { listAll } from '../storage/listing.js';
import type { MetadataIndex, ReplicationState } from '../storage/metadata-index.js';
import { authorizationHeader } from '../upstream/upstream-client.js';

type Replication = ShelfConfig['replication'][number];

/** What one run did: the bundle it carried (none when nothing had changed). */
export interface ReplicationOutcome {
  name: string;
  direction: Replication['direction'];
  bundle?: { id: string; createdAt: number };
  records: number;
  bytes: number;
  /** With `deletes`: records removed here because the source no longer holds them. */
  deleted?: number;
}

/** Waiting for the other side to start answering (it reads its index first). */
const HEADERS_TIMEOUT_MS = 5 * 60_000;
/** No byte for this long mid-transfer: the other side is gone. */
const BODY_TIMEOUT_MS = 5 * 60_000;
/** One page of the source's path listing (a thousand paths), in all. */
const PAGE_DEADLINE_MS = 5 * 60_000;
/** One run in all; a larger backlog is carried by the following runs. */
const RUN_DEADLINE_MS = 6 * 60 * 60_000;

/**
 * One run of a configured replication, one at a time per replication across the cluster. Both directions
 * carry a signed incremental bundle, so replication has the guarantees of an import: verified before
 * anything is visible, applied all at once, in order (each bundle names the one before it). A run that
 * fails or is cut off changes nothing; the next run asks again from the last bundle applied.
 */
export async function runReplication(
  context: ExportContext,
  name: string,
): Promise<ReplicationOutcome> {
  const replication = context.config.replication.find((r) => r.name === name);
  if (!replication) throw new ShelfError('NOT_FOUND', 404, `no replication ${name} is configured`);
  return withLease(context.index, `replication:${name}`, async () => {
    const last = (await context.index.replicationStates()).find((state) => state.name === name)?.lastBundle ?? null;
    try {
      const outcome = replication.direction === 'pull' ? await pull(context, replication, last) : await push(context, replication, last);
      await context.index.recordReplicationRun(name, { at: Date.now(), ...(outcome.bundle && { bundle: outcome.bundle }), records: outcome.records, bytes: outcome.bytes });
      return outcome;
    } catch (err) {
      await context.index.recordReplicationRun(name, { at: Date.now(), error: (err as Error).message, records: 0, bytes: 0 });
      throw err;
    }
  });
}

const endpoint = (replication: Replication, path: string) => `${replication.url.replace(/\/+$/, '')}${path}`;

function headers(replication: Replication): Record<string, string> {
  const authorization = authorizationHeader(replication.auth);
  return { 'user-agent': 'shelf-replication', ...(authorization && { authorization }) };
}

async function failure(response: Dispatcher.ResponseData, url: string): Promise<Error> {
  return new Error(`${url} answered ${response.statusCode}: ${messageOfErrorBody(await response.body.text().catch(() => ''))}`);
}

/** Asks the source for what changed after `last`, and imports it (its key must be trusted here). */
async function pull(context: Parameters<typeof runReplication>[0], replication: Replication, last: ReplicationState['lastBundle']): Promise<ReplicationOutcome> {
  const url = new URL(endpoint(replication, '/api/export'));
  url.searchParams.set('repositories', replication.repositories.join(','));
  if (last) {
    url.searchParams.set('after', last.id);
    url.searchParams.set('afterTime', String(last.createdAt));
  }
  const response = await request(url, {
    headers: headers(replication),
    headersTimeout: HEADERS_TIMEOUT_MS,
    bodyTimeout: BODY_TIMEOUT_MS,
    signal: AbortSignal.timeout(RUN_DEADLINE_MS),
  });
  const base = { name: replication.name, direction: replication.direction };
  let outcome: ReplicationOutcome;
  if (response.statusCode === 204) {
    await response.body.dump();
    outcome = { ...base, records: 0, bytes: 0 };
  } else if (response.statusCode === 200) {
    const summary = await importFrom(context, archiveSource(response.body, url.origin + url.pathname), `replication:${replication.name}`);
    outcome = outcomeOf(base, summary);
  } else {
    throw await failure(response, url.origin + url.pathname);
  }
  if (!replication.deletes) return outcome;
  let deleted = 0;
  for (const repo of replication.repositories) deleted += await mirrorDeletions(context.index, replication, repo);
  return { ...outcome, deleted };
}

/** Paths in index order: SQLite compares their UTF-8 bytes. */
const comparePaths = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Deletes here what the source's listing of `repo` no longer names: both listings are in path order, so
 * one pass over each (a page of the source's at a time) finds them.
 */
async function mirrorDeletions(index: MetadataIndex, replication: Replication, repo: string): Promise<number> {
  let source: string[] = [];
  let next: string | null = '';
  let at = 0;
  let deleted = 0;
  const sourcePage = async () => {
    const url = new URL(endpoint(replication, '/api/export/paths'));
    url.searchParams.set('repository', repo);
    url.searchParams.set('after', next!);
    const response = await request(url, {
      headers: headers(replication),
      headersTimeout: HEADERS_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
      signal: AbortSignal.timeout(PAGE_DEADLINE_MS),
    });
    if (response.statusCode !== 200) throw await failure(response, url.origin + url.pathname);
    ({ paths: source, next } = (await response.body.json()) as { paths: string[]; next: string | null });
    at = 0;
  };
  await sourcePage();
  for await (const record of listAll(index, repo)) {
    for (;;) {
      while (at === source.length && next !== null) await sourcePage();
      if (at === source.length || comparePaths(source[at]!, record.path) >= 0) break;
      at++;
    }
    if (at < source.length && source[at] === record.path) continue;
    if (await index.deleteArtifact(repo, record.path, record.modifiedAt)) deleted++;
  }
  return deleted;
}

const outcomeOf = (base: Pick<ReplicationOutcome, 'name' | 'direction'>, summary: ImportSummary & { createdAt: number; bytes: number }): ReplicationOutcome => ({
  ...base,
  bundle: { id: summary.id, createdAt: summary.createdAt },
  records: summary.records,
  bytes: summary.bytes,
});

/** Exports what changed here after `last` and sends it to the target's /api/import (this Shelf's key must be trusted there). */
async function push(context: Parameters<typeof runReplication>[0], replication: Replication, last: ReplicationState['lastBundle']): Promise<ReplicationOutcome> {
  const signingKey = await loadSigningKey(storagePaths(context.config).bundleSigningKey);
  const url = endpoint(replication, '/api/import');
  const body = new PassThrough();
  let sent: Promise<Dispatcher.ResponseData> | undefined;
  const manifest = await exportBundle(context, {
    selection: { repositories: replication.repositories },
    ...(last && { since: { time: last.createdAt, predecessor: last.id } }),
    skipEmpty: last !== null,
    signingKey,
    sink: async () => {
      sent = request(url, {
        method: 'POST',
        headers: { ...headers(replication), 'content-type': 'application/x-tar' },
        body,
        headersTimeout: HEADERS_TIMEOUT_MS,
        bodyTimeout: BODY_TIMEOUT_MS,
        signal: AbortSignal.timeout(RUN_DEADLINE_MS),
      });
      // A target that refuses at once (credentials, no room) stops the export instead of leaving it waiting.
      sent.then(
        (response) => {
          if (response.statusCode !== 200) body.destroy(new Error(`${url} answered ${response.statusCode}`));
        },
        (err: Error) => body.destroy(err),
      );
      return streamSink(body);
    },
  }).catch(async (err: Error) => {
    const response = await sent?.catch(() => undefined);
    throw response && response.statusCode !== 200 ? await failure(response, url) : err;
  });
  const base = { name: replication.name, direction: replication.direction };
  if (!manifest) return { ...base, records: 0, bytes: 0 };
  const response = await sent!;
  if (response.statusCode !== 200) throw await failure(response, url);
  await response.body.dump();
  return { ...base, bundle: { id: manifest.id, createdAt: manifest.createdAt }, records: manifest.records.length, bytes: bundleBytes(manifest) };
}
