import { readFile } from 'node:fs/promises';
import type { Command, Option } from 'commander';
import { formatByteSize } from '../config/byte-size.js';
import type { Format, ShelfConfig } from '../config/schema.js';
import { dockerSeedItems } from '../formats/docker/seed.js';
import { parsePlatform } from '../formats/docker/image-list.js';
import { genericSeedItems } from '../formats/generic/seed.js';
import { mavenCoordinateItems, mavenPomItem } from '../formats/maven/seed.js';
import { npmSeedItems } from '../formats/npm/seed.js';
import { pypiSeedItems } from '../formats/pypi/seed.js';
import { SeedClient, type SeedCredentials } from '../seed/seed-client.js';
import { SeedJournal } from '../seed/seed-list.js';
import { runSeed, type SeedItem } from '../seed/seeder.js';
import { TOKEN_USERNAME } from '../security/identity.js';
import { commaList } from './comma-list.js';
import { commandFailed } from './command-failed.js';
import { progressBar } from './progress.js';

interface SeedOptions {
  config: string;
  repository: string;
  url?: string;
  user?: string;
  list: string;
  lockfile: string[];
  requirements: string[];
  platform: string[];
  pythonVersion: string[];
  coordinates: string[];
  pom: string[];
  goals: string;
  images: string[];
  paths: string[];
}

const collect = (value: string, previous: string[]) => [...previous, ...commaList(value)];

/** `shelf seed`: pull what builds need through a running Shelf into its cache, and list it for `shelf export --seed`. */
export function addSeedCommand(program: Command, configOption: () => Option, loadConfig: (file: string) => ShelfConfig): void {
  program
    .command('seed')
    .description('fetch what lockfiles and lists name through a repository of a running Shelf, into its cache')
    .requiredOption('-r, --repository <key>', 'the remote or virtual repository to seed through')
    .option('--lockfile <file>', 'npm: package-lock.json (v2, v3), npm-shrinkwrap.json, pnpm-lock.yaml or yarn.lock (v1)', collect, [])
    .option('--requirements <file>', 'PyPI: a requirements.txt with == pins or --hash pins', collect, [])
    .option('--platform <tags>', 'PyPI: wheel platform tags to seed (like pip download); Docker: os/arch[/variant]', collect, [])
    .option('--python-version <versions>', 'PyPI: Python versions to seed wheels for (3.12)', collect, [])
    .option('--coordinates <file>', 'Maven: group:artifact:version[:classifier][@type], one per line', collect, [])
    .option('--pom <file>', 'Maven: a pom.xml; mvn resolves its closure through Shelf (mvn must be on the PATH)', collect, [])
    .option('--goals <goals>', 'Maven: the goals mvn runs for --pom', 'dependency:go-offline')
    .option('--images <file>', 'Docker: image references, one per line', collect, [])
    .option('--paths <file>', 'generic: repository paths, one per line', collect, [])
    .option('--list <file>', 'the seed list to write (what shelf export --seed reads); an interrupted run resumes from it', 'shelf-seed.json')
    .option('--url <url>', "Shelf's URL (default: this host's, from the config)")
    .option('--user <name>', 'sign in as this user; the password (or an API token) comes from SHELF_PASSWORD or SHELF_TOKEN')
    .addOption(configOption())
    .action(async (options: SeedOptions) => {
      try {
        process.exitCode = await seed(options, loadConfig);
      } catch (err) {
        commandFailed(err);
      }
    });
}

async function seed(options: SeedOptions, loadConfig: (file: string) => ShelfConfig): Promise<number> {
  const client = new SeedClient(new URL(options.url ?? ownUrl(loadConfig(options.config))), credentials(options));
  try {
    const format = await repositoryFormat(client, options.repository);
    const items = await itemsFor(format, options, client);
    if (items.length === 0) throw new Error(`nothing to seed: name an input for a ${format} repository (${INPUTS[format]})`);
    const journal = await SeedJournal.open(options.list);
    const bar = progressBar('seed');
    const outcome = await runSeed(client, options.repository, items, journal, (p) =>
      bar.update(p.done + p.failed, p.items, `${p.files} files, ${formatByteSize(p.bytes)}, ${p.failed} failed`),
    ).finally(() => bar.finish());
    console.log(
      `seeded ${outcome.done} of ${outcome.items} items through ${options.repository}${outcome.skipped ? ` (${outcome.skipped} finished by an earlier run)` : ''}: ` +
        `${outcome.files} files, ${formatByteSize(outcome.bytes)}; list written to ${options.list}`,
    );
    for (const failure of outcome.list.failed) console.error(`could not get ${failure.item}: ${failure.error}`);
    if (outcome.failed > 0) console.error(`${outcome.failed} items failed; run the same command again to retry them`);
    return outcome.failed > 0 ? 1 : 0;
  } finally {
    await client.close();
  }
}

const INPUTS: Record<Format, string> = {
  npm: '--lockfile',
  pypi: '--requirements',
  maven: '--coordinates or --pom',
  docker: '--images',
  generic: '--paths',
};

async function itemsFor(format: Format, options: SeedOptions, client: SeedClient): Promise<SeedItem[]> {
  const given = Object.entries({ npm: options.lockfile, pypi: options.requirements, maven: [...options.coordinates, ...options.pom], docker: options.images, generic: options.paths })
    .filter(([, files]) => files.length > 0)
    .map(([name]) => name);
  const stray = given.filter((name) => name !== format);
  if (stray.length > 0) throw new Error(`${options.repository} is a ${format} repository; ${stray.map((name) => INPUTS[name as Format]).join(', ')} seed other formats`);
  const read = (file: string) => readFile(file, 'utf8');
  const items: SeedItem[] = [];
  for (const file of options.lockfile) items.push(...npmSeedItems(file, await read(file)));
  const targets = { platforms: options.platform, pythonVersions: options.pythonVersion };
  for (const file of options.requirements) items.push(...pypiSeedItems(await read(file), targets));
  for (const file of options.coordinates) items.push(...mavenCoordinateItems(await read(file)));
  for (const file of options.pom) items.push(mavenPomItem(file, options.goals.split(/\s+/).filter(Boolean), client.credentials));
  const platforms = format === 'docker' ? options.platform.map(parsePlatform) : [];
  for (const file of options.images) items.push(...dockerSeedItems(await read(file), platforms));
  for (const file of options.paths) items.push(...genericSeedItems(await read(file)));
  return items;
}

/** The repository's format, as Shelf reports it to this caller (which also proves the URL and the credentials). */
async function repositoryFormat(client: SeedClient, key: string): Promise<Format> {
  const { body } = await client.document('/api/repositories', 'application/json');
  const repos = JSON.parse(body.toString('utf8')) as { key: string; type: string; packageType: Format }[];
  const repo = repos.find((r) => r.key === key);
  if (!repo) throw new Error(`${client.baseUrl.origin} has no repository ${key} that these credentials may read`);
  if (repo.type === 'LOCAL') throw new Error(`${key} is a local repository: seeding fetches through remote or virtual ones`);
  return repo.packageType;
}

function credentials(options: SeedOptions): SeedCredentials | undefined {
  const token = process.env.SHELF_TOKEN;
  const password = process.env.SHELF_PASSWORD;
  if (token) return { username: options.user ?? TOKEN_USERNAME, secret: token };
  if (options.user && password === undefined) throw new Error(`--user ${options.user} needs its password in SHELF_PASSWORD (or an API token in SHELF_TOKEN)`);
  return options.user && password !== undefined ? { username: options.user, secret: password } : undefined;
}

function ownUrl(config: ShelfConfig): string {
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
}
