import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { SeedCredentials } from '../../seed/seed-client.js';
import { itemsOf, type SeedItem, type SeedSession } from '../../seed/seeder.js';
import { coordinatePaths, parseCoordinates, type Coordinate } from './coordinates.js';
import { isMetadataPath, splitChecksum } from './layout.js';

/** `shelf seed` from a coordinate list: each artifact's POM and file (Shelf answers their checksums from what it stores). */
export function mavenCoordinateItems(text: string): SeedItem[] {
  return itemsOf(parseCoordinates(text), async (session, coordinate: Coordinate) => {
    for (const path of coordinatePaths(coordinate)) {
      await session.file(`/${encodeURIComponent(session.repo)}/${path}`);
      session.keep(path);
    }
  });
}

/** Files of a local repository that are the client's bookkeeping, not artifacts. */
const isBookkeeping = (path: string) =>
  /(^|\/)(_remote\.repositories|resolver-status\.properties)$|\.lastUpdated$|maven-metadata-[^/]+\.xml$/.test(path) || splitChecksum(path).algorithm !== undefined;

/**
 * `shelf seed` from a pom.xml: Maven itself resolves the build's dependency and plugin closure through Shelf
 * (`mvn <goals>` with Shelf as the only mirror and an empty local repository), and what it downloaded is the
 * seed. The goals default to `dependency:go-offline`; the build's own goals (`package`) catch what that
 * plugin misses, such as surefire's test providers.
 */
export function mavenPomItem(pom: string, goals: string[], credentials: SeedCredentials | undefined): SeedItem {
  return {
    label: `${pom} (mvn ${goals.join(' ')})`,
    run: async (session) => {
      const work = await mkdtemp(join(tmpdir(), 'shelf-seed-maven-'));
      try {
        const localRepo = join(work, 'm2');
        await writeFile(join(work, 'settings.xml'), settingsXml(session.client.resolve(`/${encodeURIComponent(session.repo)}/`).href, credentials));
        await runMaven(['-B', '-s', join(work, 'settings.xml'), `-Dmaven.repo.local=${localRepo}`, '-f', resolve(pom), ...goals], work);
        for await (const path of filesBelow(localRepo)) {
          const repoPath = relative(localRepo, path).split('\\').join('/');
          if (isBookkeeping(repoPath) || isMetadataPath(repoPath)) continue;
          session.keep(repoPath);
          session.counted(1, (await stat(path)).size);
        }
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}

async function* filesBelow(dir: string): AsyncIterable<string> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesBelow(path);
    else if (entry.isFile()) yield path;
  }
}

const xmlText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function settingsXml(mirrorUrl: string, credentials: SeedCredentials | undefined): string {
  const server = credentials
    ? `<servers><server><id>shelf</id><username>${xmlText(credentials.username)}</username><password>${xmlText(credentials.secret)}</password></server></servers>`
    : '';
  return `<settings>${server}<mirrors><mirror><id>shelf</id><mirrorOf>*</mirrorOf><url>${xmlText(mirrorUrl)}</url></mirror></mirrors></settings>\n`;
}

function runMaven(args: string[], cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('mvn', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => fail(new Error(`could not run mvn (${err.message}); a pom.xml is seeded by Maven itself, so mvn must be on the PATH`)));
    child.on('close', (code) => {
      if (code === 0) done();
      else fail(new Error(`mvn ${args.at(-1)} failed (exit ${code}):\n${output.split('\n').filter((l) => l.includes('ERROR')).slice(0, 8).join('\n') || output.slice(-1500)}`));
    });
  });
}
