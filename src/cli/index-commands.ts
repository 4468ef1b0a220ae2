import type { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { postgresSettings, storagePaths } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { isListening } from '../lifecycle/backup.js';
import { copySqliteToPostgres } from '../storage/index-copy.js';
import { PostgresIndex } from '../storage/postgres-index.js';
import { commandFailed } from './command-failed.js';

type LoadConfig = (file: string) => ShelfConfig;

/** `shelf index migrate`: an appliance's SQLite index into PostgreSQL, for several nodes (high availability). */
export function addIndexCommands(program: Command, configOption: () => Option, loadConfig: LoadConfig): void {
  program
    .command('index')
    .description('work with the metadata index')
    .command('migrate')
    .description('copy a SQLite index into an empty PostgreSQL database (Shelf stopped); then set storage.index to postgres')
    .requiredOption('--from <source>', '"sqlite" (the index in storage.dataDir) or the path of an index file')
    .option('--to <url>', 'the PostgreSQL connection string (default: storage.index.url of a config that already names postgres)')
    .addOption(configOption())
    .action(async (options: { config: string; from: string; to?: string }) => {
      try {
        const config = loadConfig(options.config);
        const from = options.from === 'sqlite' ? storagePaths(config).index : options.from;
        if (!existsSync(from)) throw new Error(`no SQLite index at ${from}`);
        const url = options.to ?? postgresSettings(config)?.url;
        if (!url) throw new Error('give --to postgres://…, or name the database in storage.index (type: postgres) first');
        if (options.from === 'sqlite' && (await isListening(config))) {
          throw new Error(`Shelf answers on port ${config.server.port}: stop it first, so that nothing changes after the copy (systemctl stop shelf)`);
        }
        // Opening creates (or brings up to date) the schema; the copy then goes in one transaction.
        await (await PostgresIndex.open({ url })).close();
        const copied = await copySqliteToPostgres(from, url, ({ table, rows }) => console.log(`${table}: ${rows} rows`));
        const total = copied.reduce((sum, c) => sum + c.rows, 0);
        console.log(`copied ${total} rows from ${from} into PostgreSQL; set storage.index to { type: postgres, url: … } on every node and start them`);
      } catch (err) {
        commandFailed(err);
      }
    });
}
