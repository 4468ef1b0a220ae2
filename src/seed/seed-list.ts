import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * What a seed run brought into the cache, as repository paths per repository key (the keys the run asked,
 * virtual ones included): the selection `shelf export --seed` bundles. A path ending in `/` stands for
 * everything below it (an image's referrers, a hosted package's dist-tags).
 */
export const seedListSchema = z.strictObject({
  format: z.literal('shelf-seed/1'),
  repositories: z.record(z.string(), z.array(z.string())),
  /** What could not be got, with why. */
  failed: z.array(z.strictObject({ repo: z.string(), item: z.string(), error: z.string() })),
});

export type SeedList = z.output<typeof seedListSchema>;

export async function readSeedList(file: string): Promise<SeedList> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? new Error(`no seed list at ${file}; shelf seed --list writes one`) : err;
  });
  const parsed = seedListSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file} is not a seed list: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** One finished item in the journal: what a resumed run skips, and the paths it had kept. */
interface JournalEntry {
  repo: string;
  item: string;
  paths: string[];
}

/**
 * The seed list of a run, kept as a journal of finished items while the run goes on (an interrupted run
 * resumes from it, skipping what it finished) and written whole at the end.
 */
export class SeedJournal {
  private readonly done = new Map<string, JournalEntry>();

  private constructor(readonly file: string) {}

  /** Opens the journal of `file`, resuming a run that was interrupted before it wrote its list. */
  static async open(file: string): Promise<SeedJournal> {
    const journal = new SeedJournal(file);
    const text = await readFile(journal.journalFile, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const entry = JSON.parse(line) as JournalEntry;
        journal.done.set(SeedJournal.key(entry.repo, entry.item), entry);
      } catch {
        // A line cut short by the interruption: that item runs again.
      }
    }
    return journal;
  }

  private static key(repo: string, item: string) {
    return `${repo}\n${item}`;
  }

  private get journalFile() {
    return `${this.file}.journal`;
  }

  get resumed(): number {
    return this.done.size;
  }

  finished(repo: string, item: string): boolean {
    return this.done.has(SeedJournal.key(repo, item));
  }

  async record(repo: string, item: string, paths: Iterable<string>): Promise<void> {
    const entry = { repo, item, paths: [...paths] };
    this.done.set(SeedJournal.key(repo, item), entry);
    await appendFile(this.journalFile, `${JSON.stringify(entry)}\n`);
  }

  /**
   * Writes the list (atomically). After a clean run the journal goes and the next run starts afresh; after
   * failures it stays, so running again retries only what failed.
   */
  async close(failed: SeedList['failed']): Promise<SeedList> {
    const repositories: Record<string, Set<string>> = {};
    for (const { repo, paths } of this.done.values()) {
      const set = (repositories[repo] ??= new Set());
      for (const path of paths) set.add(path);
    }
    const list: SeedList = {
      format: 'shelf-seed/1',
      repositories: Object.fromEntries(Object.entries(repositories).map(([repo, paths]) => [repo, [...paths].sort()])),
      failed,
    };
    await writeFile(`${this.file}.tmp`, `${JSON.stringify(list, null, 1)}\n`);
    await rename(`${this.file}.tmp`, this.file);
    if (failed.length === 0) await rm(this.journalFile, { force: true });
    return list;
  }
}
