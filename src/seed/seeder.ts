import { LRUCache } from 'lru-cache';
import { mapBounded } from '../concurrency.js';
import type { Fetched, SeedClient } from './seed-client.js';
import type { SeedJournal, SeedList } from './seed-list.js';

/**
 * One thing a build needs, as its input names it (`lodash@4.17.21`, `requests==2.31.0`, `nginx:1.27`):
 * fetched through Shelf as a whole, and failed as a whole.
 */
export interface SeedItem {
  label: string;
  run(session: SeedSession): Promise<void>;
}

/**
 * Items from a parsed input, one per line; a line that did not parse is an item that fails, naming its
 * problem, so the run reports it beside the others.
 */
export function itemsOf<T extends { line: string }>(
  entries: (T | { line: string; problem: string })[],
  run: (session: SeedSession, entry: T) => Promise<void>,
): SeedItem[] {
  return entries.map((entry) => ({
    label: entry.line,
    run: async (session) => {
      if ('problem' in entry) throw new Error(`${entry.line}: ${entry.problem}`);
      await run(session, entry as T);
    },
  }));
}

/** What an item fetches with: one repository of one Shelf. */
export interface SeedSession {
  /** The repository key the run seeds through (remote or virtual). */
  readonly repo: string;
  readonly client: SeedClient;
  /** A document (read whole); it counts as a file. */
  document(pathOrUrl: string, accept?: string): Promise<Fetched>;
  /** A file, read through Shelf to its end (Shelf caches it on the way). */
  file(pathOrUrl: string, accept?: string): Promise<void>;
  /** Names a repository path (or a folder, ending in `/`) the item consists of, for `shelf export --seed`. */
  keep(path: string): void;
  /** Files fetched by another client on the seed's behalf (Maven resolving a POM), for the progress counts. */
  counted(files: number, bytes: number): void;
  /** The repository path of a URL Shelf gave out for this repository (a tarball's, a file's). */
  repoPath(url: URL): string;
  /** A document several items need (an npm packument, a PyPI project page), fetched once per run. */
  shared<T>(key: string, load: () => Promise<T>): Promise<T>;
}

export interface SeedProgress {
  items: number;
  done: number;
  failed: number;
  files: number;
  bytes: number;
}

export interface SeedOutcome extends SeedProgress {
  /** Items a resumed run found finished before. */
  skipped: number;
  list: SeedList;
}

/** Shared documents (packuments, project pages) kept at once during a run. */
const SHARED_DOCUMENTS = 32;

/** Items fetched at once: enough to keep a cold upstream busy, few enough not to crowd out the builds Shelf serves. */
export const SEED_CONCURRENCY = 4;

/**
 * Seeds `items` through one repository, a few at a time. Each finished item goes into the journal at once,
 * so an interrupted run resumes where it stopped; every failure is named in the outcome, never fatal to the
 * rest.
 */
export async function runSeed(
  client: SeedClient,
  repo: string,
  items: SeedItem[],
  journal: SeedJournal,
  onProgress: (progress: SeedProgress) => void = () => undefined,
): Promise<SeedOutcome> {
  const progress: SeedProgress = { items: 0, done: 0, failed: 0, files: 0, bytes: 0 };
  const failed: SeedList['failed'] = [];
  // Packuments can be tens of MB: the most recent few are kept, an evicted one is read from Shelf again.
  const shared = new LRUCache<string, Promise<unknown>>({ max: SHARED_DOCUMENTS });
  // Lockfiles of one project name the same versions: each is fetched once.
  const unique = [...new Map(items.map((item) => [item.label, item])).values()];
  const pending = unique.filter((item) => !journal.finished(repo, item.label));
  const skipped = unique.length - pending.length;
  progress.items = unique.length;
  progress.done = skipped;
  onProgress(progress);

  const runItem = async (item: SeedItem) => {
    const kept = new Set<string>();
    const session: SeedSession = {
      repo,
      client,
      async document(pathOrUrl, accept) {
        const fetched = await client.document(pathOrUrl, accept);
        progress.files++;
        progress.bytes += fetched.body.length;
        onProgress(progress);
        return fetched;
      },
      async file(pathOrUrl, accept) {
        await client.download(pathOrUrl, (count) => {
          progress.bytes += count;
          onProgress(progress);
        }, accept);
        progress.files++;
        onProgress(progress);
      },
      keep: (path) => void kept.add(path),
      counted(files, bytes) {
        progress.files += files;
        progress.bytes += bytes;
        onProgress(progress);
      },
      repoPath(url) {
        const prefix = `${client.resolve(`/${encodeURIComponent(repo)}/`).pathname}`;
        if (!url.pathname.startsWith(prefix)) throw new Error(`${url.href} is not in repository ${repo}`);
        return url.pathname.slice(prefix.length).split('/').map(decodeURIComponent).join('/');
      },
      shared<T>(key: string, load: () => Promise<T>): Promise<T> {
        let value = shared.get(key) as Promise<T> | undefined;
        if (!value) shared.set(key, (value = load()));
        return value;
      },
    };
    try {
      await item.run(session);
      await journal.record(repo, item.label, kept);
      progress.done++;
    } catch (err) {
      failed.push({ repo, item: item.label, error: (err as Error).message });
      progress.failed++;
    }
    onProgress(progress);
  };

  await mapBounded(pending, SEED_CONCURRENCY, runItem);
  const list = await journal.close(failed);
  return { ...progress, skipped, list };
}
