#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { openStorage } from '../app.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { verifyBlobs } from '../storage/verify.js';
import { WorkerPool } from '../workers/pool.js';
import { createLogger } from '../observability/logger.js';
import { serve } from '../server/serve.js';
import { addIdentityCommands } from './identity-commands.js';

const DEFAULT_CONFIG = 'config/shelf.yaml';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const configOption = () =>
  new Option('-c, --config <file>', 'config file').default(process.env.SHELF_CONFIG ?? DEFAULT_CONFIG);

const program = new Command('shelf')
  .description('Pull-through caching artifact appliance for Docker/OCI, npm, PyPI, Maven and generic files')
  .version(version, '-v, --version');

program
  .command('serve')
  .description('serve the repositories a config file defines')
  .addOption(configOption())
  .action(async (options: { config: string }) => {
    const config = loadOrExit(options.config);
    const log = createLogger(config.logging.level);
    await serve(config, log).catch((err: unknown) => {
      log.fatal({ err }, `could not start: ${(err as Error).message}`);
      process.exit(1);
    });
  });

const configCommand = program.command('config').description('work with config files');
configCommand
  .command('check')
  .argument('[file]', 'config file', DEFAULT_CONFIG)
  .description('validate a config file and print every problem with its key path')
  .action((file: string) => {
    const config = loadOrExit(file);
    console.log(`${file}: ok (${config.repositories.length} repositories)`);
  });

const storageCommand = program.command('storage').description('inspect the blob store');
storageCommand
  .command('verify')
  .description('re-hash every stored blob (in worker threads) and report any that changed on disk')
  .addOption(configOption())
  .action(async (options: { config: string }) => {
    const config = loadOrExit(options.config);
    const { blobs, index } = await openStorage(config);
    const pool = new WorkerPool();
    const report = await verifyBlobs(blobs, index, pool);
    await pool.close();
    await index.close();
    console.log(`${report.checked} blobs checked, ${report.corrupt.length} corrupt, ${report.missing.length} missing`);
    for (const sha256 of report.corrupt) console.log(`corrupt: sha256:${sha256}`);
    for (const sha256 of report.missing) console.log(`missing: sha256:${sha256}`);
    process.exitCode = report.corrupt.length + report.missing.length > 0 ? 1 : 0;
  });

addIdentityCommands(program, configOption, loadOrExit);

function loadOrExit(file: string) {
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}

await program.parseAsync();
