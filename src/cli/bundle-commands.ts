import type { Command, Option } from 'commander';
import { storagePaths } from '../app.js';
import { exportBundle } from '../bundles/export.js';
import { runImport } from '../bundles/import-job.js';
import { bundleSink, bundleSource } from '../bundles/bundle-files.js';
import { parseByteSize } from '../config/byte-size.js';
import { createSigningKey, keyId, loadSigningKey, publicKeyOf, publicKeyPem } from '../bundles/signing.js';
import type { ShelfConfig } from '../config/schema.js';
import { withJobContext } from '../lifecycle/job-context.js';
import { createLogger } from '../observability/logger.js';
import { readSeedList } from '../seed/seed-list.js';
import { bundleBytes } from '../bundles/manifest.js';
import { commaList } from './comma-list.js';
import { commandFailed } from './command-failed.js';
import { progressBar } from './progress.js';

type LoadConfig = (file: string) => ShelfConfig;

/** `shelf keys`, `shelf export` and `shelf import`: signed bundles for air-gapped sites. */
export function addBundleCommands(program: Command, configOption: () => Option, loadConfig: LoadConfig): void {
  const keys = program.command('keys').description('the key bundles are signed with');
  keys
    .command('create')
    .description('make the Ed25519 signing key (never replaced) and print its public half')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      const file = storagePaths(loadConfig(options.config)).bundleSigningKey;
      await createSigningKey(file)
        .then((publicKey) => {
          console.error(`made ${file} (key ${keyId(publicKey)}); give the public key below to the importing side's bundles.trustedKeys`);
          process.stdout.write(publicKeyPem(publicKey));
        })
        .catch(commandFailed);
    });
  keys
    .command('export-public')
    .description('print the public key importers must trust (PEM)')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      await loadSigningKey(storagePaths(loadConfig(options.config)).bundleSigningKey)
        .then((key) => process.stdout.write(publicKeyPem(publicKeyOf(key))))
        .catch(commandFailed);
    });

  program
    .command('export')
    .description("write a signed bundle of repositories' content (never users, tokens or keys)")
    .option('--repositories <keys>', 'local or remote repositories, comma-separated')
    .option('--seed <lists>', 'what seed runs listed (shelf seed --list files, comma-separated), instead of whole repositories')
    .requiredOption('--out <path>', 'a new (or empty) directory, or an archive <name>.tar')
    .option('--split-size <size>', 'an archive in parts of this size (4GiB): <name>.tar.000, .001, …')
    .option('--paths <pattern>', 'only paths matching this Ant-style pattern')
    .option('--after <bundle>', 'incremental: only what changed since that earlier bundle (as exported), which it follows')
    .addOption(configOption())
    .action(async (options: { config: string; repositories?: string; seed?: string; out: string; splitSize?: string; paths?: string; after?: string }) => {
      const config = loadConfig(options.config);
      await withJobContext(config, createLogger('warn'), async (context) => {
        if ((options.repositories === undefined) === (options.seed === undefined)) throw new Error('name either --repositories or --seed');
        if (options.seed !== undefined && options.paths !== undefined) throw new Error('--paths narrows --repositories; a seed list names its paths itself');
        const selection = options.repositories !== undefined
          ? { repositories: commaList(options.repositories), ...(options.paths !== undefined && { paths: options.paths }) }
          : { seed: await Promise.all(commaList(options.seed!).map(readSeedList)) };
        const signingKey = await loadSigningKey(storagePaths(config).bundleSigningKey);
        const partBytes = options.splitSize === undefined ? undefined : parseByteSize(options.splitSize);
        if (options.splitSize !== undefined && partBytes === undefined) throw new Error(`--split-size ${options.splitSize} is not a size (like 4GiB or 700MB)`);
        const previous = options.after && (JSON.parse((await (await bundleSource(options.after)).manifest()).bytes.toString('utf8')) as { id: string; createdAt: number });
        const manifest = await exportBundle(
          context,
          {
            selection,
            sink: () => bundleSink(options.out, partBytes),
            signingKey,
            ...(previous && { since: { time: previous.createdAt, predecessor: previous.id } }),
          },
        );
        if (!manifest) return;
        const bytes = bundleBytes(manifest);
        console.log(`bundle ${manifest.id}: ${manifest.records.length} records, ${manifest.blobs.length} blobs, ${bytes} bytes${manifest.predecessor ? `, after ${manifest.predecessor}` : ''}`);
      }).catch(commandFailed);
    });

  program
    .command('import')
    .description('verify a bundle (signature, every blob) and apply it all at once')
    .argument('<bundle>', 'the bundle: a directory, an archive, or the first part of a split one')
    .addOption(configOption())
    .action(async (path: string, options: { config: string }) => {
      const config = loadConfig(options.config);
      await withJobContext(config, createLogger('warn'), async (context) => {
        const bar = progressBar('import');
        const summary = await runImport(context, path, (done, total) => bar.update(done, total, 'blobs verified')).finally(() => bar.finish());
        console.log(
          summary.imported
            ? `imported bundle ${summary.id}: ${summary.records} records, ${summary.blobs} blobs (${summary.newBlobs} new)`
            : `bundle ${summary.id} was imported before; nothing changed`,
        );
      }).catch(commandFailed);
    });
}
