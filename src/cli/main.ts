#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { createLogger } from '../observability/logger.js';
import { serve } from '../server/serve.js';

const DEFAULT_CONFIG = 'config/shelf.yaml';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('shelf')
  .description('Pull-through caching artifact appliance for Docker/OCI, npm, PyPI, Maven and generic files')
  .version(version, '-v, --version');

program
  .command('serve')
  .description('serve the repositories a config file defines')
  .option('-c, --config <file>', 'config file', process.env.SHELF_CONFIG ?? DEFAULT_CONFIG)
  .action(async (options: { config: string }) => {
    const config = loadOrExit(options.config);
    await serve(config, createLogger(config.logging.level));
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
