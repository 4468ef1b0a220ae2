#!/usr/bin/env node
import { constants, setPriority } from 'node:os';
import { Command, Option } from 'commander';
import { ShelfApp } from '../app.js';
import { SHELF_VERSION } from '../version.js';
import { formatByteSize } from '../config/byte-size.js';
import { collectGarbage, type GcReport } from '../lifecycle/gc.js';
import { withJobContext, type JobContext } from '../lifecycle/job-context.js';
import { applyRetention } from '../lifecycle/retention.js';
import type { PromotionSelection } from '../formats/format-module.js';
import { Promotion } from '../repos/promotion.js';
import type { Repository } from '../repos/repository.js';
import { progressBar } from './progress.js';
import { commandFailed } from './command-failed.js';
import { LocalFlightCoordinator } from '../repos/flights.js';
import { repairBlobs } from '../repos/repair.js';
import { ConfigError, loadConfigFile, unconfiguredRepositories } from '../config/load.js';
import { verifyBlobs } from '../storage/verify.js';
import { WorkerPool } from '../workers/pool.js';
import { createLogger } from '../observability/logger.js';
import { serve } from '../server/serve.js';
import { addIdentityCommands } from './identity-commands.js';
import { addBundleCommands } from './bundle-commands.js';
import { addSeedCommand } from './seed-command.js';
import { addBackupCommands } from './backup-commands.js';
import { addIndexCommands } from './index-commands.js';
import { addServiceCommand } from './service-command.js';

const DEFAULT_CONFIG = 'config/shelf.yaml';

const configOption = () =>
  new Option('-c, --config <file>', 'config file').default(process.env.SHELF_CONFIG ?? DEFAULT_CONFIG);

const program = new Command('shelf')
  .description('Pull-through caching artifact appliance for Docker/OCI, npm, PyPI, Maven and generic files')
  .version(SHELF_VERSION, '-v, --version');

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
  .argument('[file]', 'config file', process.env.SHELF_CONFIG ?? DEFAULT_CONFIG)
  .description('validate a config file and print every problem with its key path')
  .action((file: string) => {
    const config = loadOrExit(file);
    console.log(`${file}: ok (${config.repositories.length} repositories)`);
    for (const { key, variables } of unconfiguredRepositories(config)) {
      console.log(`warning: repository ${key} is not configured until ${variables.join(' or ')} is set in Shelf's environment; it answers 503 meanwhile`);
    }
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
      // Background work: the serving processes get the CPU first.
      setPriority(constants.priority.PRIORITY_BELOW_NORMAL);
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

program
  .command('promote')
  .description('copy (or move) files or a package version into another repository, by linking, never copying bytes')
  .argument('<source>', 'the repository to promote from')
  .argument('<target>', 'the local repository (or virtual, for its deploy repository) to promote into')
  .option('--path <path>', 'a file, or a folder and everything below it')
  .option('--to-path <path>', 'where the path goes in the target (default: the same path)')
  .option('--package <name@version>', 'a package version: npm name@1.0.0, PyPI project@1.0, Maven groupId:artifactId@1.0')
  .option('--dist-tag <tag...>', 'npm: dist-tags to point at the promoted version')
  .option('--move', 'remove it from the source afterwards')
  .option('--dry-run', 'print what would be linked, and change nothing')
  .addOption(configOption())
  .action((sourceKey: string, targetKey: string, options: PromoteOptions) =>
    runMaintenance(options.config, async ({ repos, audit }) => {
      const [source, target] = [sourceKey, targetKey].map((key) => {
        const repo = repos.get(key);
        if (!repo) throw new Error(`no repository ${key}`);
        return repo;
      }) as [Repository, Repository];
      const result = await new Promotion((key) => repos.get(key)).run({
        source,
        target,
        selection: promoteSelection(options),
        ...(options.toPath !== undefined && { targetPath: options.toPath }),
        move: options.move === true,
        dryRun: options.dryRun === true,
        distTags: options.distTag ?? [],
      });
      for (const item of result.items) console.log(`${item.from} -> ${item.to}`);
      console.log(`${result.dryRun ? 'would link' : 'linked'} ${result.items.length} files into ${result.target}${result.move ? ' and remove them from the source' : ''}`);
      if (!result.dryRun) {
        audit.record({ event: result.move ? 'move' : 'promote', user: null, via: 'cli', repo: source.key, targetRepo: result.target, files: result.items.length, result: 'ok' });
      }
    }),
  );

interface PromoteOptions {
  config: string;
  path?: string;
  toPath?: string;
  package?: string;
  distTag?: string[];
  move?: boolean;
  dryRun?: boolean;
}

function promoteSelection(options: PromoteOptions): PromotionSelection {
  if ((options.path === undefined) === (options.package === undefined)) throw new Error('give either --path or --package');
  if (options.path !== undefined) return { path: options.path.replace(/^\//, '') };
  // A scoped npm name starts with "@": the version follows the last one.
  const at = options.package!.lastIndexOf('@');
  if (at <= 0) throw new Error('--package takes name@version');
  return { package: options.package!.slice(0, at), version: options.package!.slice(at + 1) };
}

/** A maintenance job beside the running service (or without it), with exit code 1 and the reason when it fails. */
async function runMaintenance(configFile: string, job: (context: JobContext) => Promise<void>): Promise<void> {
  const config = loadOrExit(configFile);
  await withJobContext(config, createLogger('warn'), job).catch(commandFailed);
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
addSeedCommand(program, configOption, loadOrExit);
addBundleCommands(program, configOption, loadOrExit);
addBackupCommands(program, configOption, loadOrExit);
addIndexCommands(program, configOption, loadOrExit);
addServiceCommand(program, configOption, loadOrExit);

function loadOrExit(file: string) {
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}

// A command that fails outside its own handling (a secret that cannot be read, storage that cannot be
// opened) says why in one line, as the others do, rather than with a stack trace.
await program.parseAsync().catch(commandFailed);
