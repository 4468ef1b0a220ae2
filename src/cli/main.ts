#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ShelfApp } from '../app.js';
import { formatByteSize } from '../config/byte-size.js';
import { collectGarbage, type GcReport } from '../lifecycle/gc.js';
import { withJobContext, type JobContext } from '../lifecycle/job-context.js';
import { applyRetention } from '../lifecycle/retention.js';
import { progressBar } from './progress.js';
import { LocalFlightCoordinator } from '../repos/flights.js';
import { repairBlobs } from '../repos/repair.js';
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
  .option('--repair', 'quarantine damaged blobs and fetch cached files again from their upstreams')
  .addOption(configOption())
  .action(async (options: { config: string; repair?: boolean }) => {
    const config = loadOrExit(options.config);
    const log = createLogger(config.logging.level);
    const app = await ShelfApp.create({ config, log, flights: new LocalFlightCoordinator() });
    const pool = new WorkerPool();
    const report = await verifyBlobs(app.blobs, app.index, pool);
    await pool.close();
    console.log(`${report.checked} blobs checked, ${report.corrupt.length} corrupt, ${report.missing.length} missing`);
    for (const sha256 of report.corrupt) console.log(`corrupt: sha256:${sha256}`);
    for (const sha256 of report.missing) console.log(`missing: sha256:${sha256}`);
    for (const sha256 of report.orphans) console.log(`orphan: sha256:${sha256} (no index entry refers to it; shelf gc removes it)`);
    if (report.orphans.length > 0) console.log(`${report.orphans.length} orphan blob files`);
    let unrepaired = report.corrupt.length + report.missing.length;
    if (options.repair && unrepaired > 0) {
      const repair = await repairBlobs(report, app.blobs, app.index, app.repos);
      for (const where of repair.refetched) console.log(`refetched: ${where}`);
      for (const where of repair.unrepaired) console.log(`not repaired: ${where}`);
      console.log(`${repair.refetched.length} files fetched again, ${repair.unrepaired.length} not repaired`);
      unrepaired = repair.unrepaired.length;
    }
    await app.close();
    process.exitCode = unrepaired > 0 ? 1 : 0;
  });

program
  .command('gc')
  .description('delete stored blobs nothing refers to any more (older than storage.gc.graceSeconds), while Shelf serves')
  .option('--dry-run', 'print what would be freed, per repository, and delete nothing')
  .addOption(configOption())
  .action((options: { config: string; dryRun?: boolean }) =>
    runMaintenance(options.config, async (context) => {
      const bar = progressBar(options.dryRun ? 'gc (dry run)' : 'gc');
      const report = await collectGarbage(context, { dryRun: options.dryRun === true, onProgress: (done, total) => bar.update(done, total) }).finally(() =>
        bar.finish(),
      );
      printGcReport(report);
    }),
  );

program
  .command('retention')
  .description("apply the hosted repositories' retention policies now")
  .option('--dry-run', 'print exactly which versions would be deleted, and delete nothing')
  .addOption(configOption())
  .action((options: { config: string; dryRun?: boolean }) =>
    runMaintenance(options.config, async (context) => {
      const report = await applyRetention(context, { dryRun: options.dryRun === true });
      for (const d of report.deleted) console.log(`${d.repo}: ${d.package}@${d.version} (policy ${d.policy}, published ${d.publishedAt})`);
      console.log(`${report.dryRun ? 'would delete' : 'deleted'} ${report.deleted.length} versions`);
      if (report.dryRun) console.log('dry run: nothing was deleted');
    }),
  );

/** A maintenance job beside the running service (or without it), with exit code 1 and the reason when it fails. */
async function runMaintenance(configFile: string, job: (context: JobContext) => Promise<void>): Promise<void> {
  const config = loadOrExit(configFile);
  await withJobContext(config, createLogger('warn'), job).catch((err: unknown) => {
    console.error(`failed: ${(err as Error).message}`);
    process.exitCode = 1;
  });
}

function printGcReport(report: GcReport): void {
  const verb = report.dryRun ? 'would free' : 'freed';
  for (const { repo, paths, bytes } of report.repositories) {
    console.log(`${repo}: ${paths} unreferenced entries (Docker layers, untagged manifests), ${verb} ${formatByteSize(bytes)}`);
  }
  console.log(`${verb} ${report.blobs.count} blobs, ${formatByteSize(report.blobs.bytes)}`);
  console.log(`kept ${report.keptYoung} unreferenced blobs younger than the grace period; ${report.records} index records dropped`);
  if (report.dryRun) console.log('dry run: nothing was deleted');
}

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
