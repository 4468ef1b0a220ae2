import type { Command, Option } from 'commander';
import { formatByteSize } from '../config/byte-size.js';
import type { ShelfConfig } from '../config/schema.js';
import { backup, restore } from '../lifecycle/backup.js';
import { withJobContext } from '../lifecycle/job-context.js';
import { createLogger } from '../observability/logger.js';
import { commandFailed } from './command-failed.js';
import { progressBar } from './progress.js';

type LoadConfig = (file: string) => ShelfConfig;

/** `shelf backup` and `shelf restore`: the index, the blobs it names and the keys, in a directory. */
export function addBackupCommands(program: Command, configOption: () => Option, loadConfig: LoadConfig): void {
  program
    .command('backup')
    .description('copy the index (online, consistent while Shelf serves), the blobs it refers to and the keys into a directory')
    .argument('<dir>', 'the backup directory (one used before is brought up to date)')
    .option('--index-only', 'only the index and the keys (before an upgrade: the blobs stay where they are)')
    .addOption(configOption())
    .action(async (dir: string, options: { config: string; indexOnly?: boolean }) => {
      const config = loadConfig(options.config);
      const bar = progressBar('backup');
      await withJobContext(config, createLogger('warn'), (context) =>
        backup(context, dir, { indexOnly: options.indexOnly === true, onProgress: (done, total) => bar.update(done, total) }),
      )
        .then((manifest) => {
          bar.finish();
          console.log(`backed up the index (schema ${manifest.schemaVersion})${manifest.indexOnly ? '' : ` and ${manifest.blobs.count} blobs, ${formatByteSize(manifest.blobs.bytes)}`} to ${dir}`);
        })
        .catch((err: unknown) => {
          bar.finish();
          commandFailed(err);
        });
    });
  program
    .command('restore')
    .description('put a backup in place of the index and keys (blobs it holds that are missing are copied in); Shelf must be stopped')
    .argument('<dir>', 'a directory `shelf backup` wrote')
    .addOption(configOption())
    .action(async (dir: string, options: { config: string }) => {
      await restore(loadConfig(options.config), dir)
        .then((report) => {
          console.log(`restored the index of ${report.manifest.createdAt} (Shelf ${report.manifest.version}, schema ${report.manifest.schemaVersion}); ${report.blobsCopied} blobs copied in`);
          if (report.previousIndex) console.log(`the index it replaced is kept as ${report.previousIndex}`);
        })
        .catch(commandFailed);
    });
}
