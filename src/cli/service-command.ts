import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Command, Option } from 'commander';
import { storagePaths } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { nginxFrontSite } from '../server/nginx-front.js';
import { commandFailed } from './command-failed.js';

type LoadConfig = (file: string) => ShelfConfig;

/** The service's own state directory (the unit's StateDirectory=), always writable. */
const STATE_DIR = '/var/lib/shelf';
const DROP_IN = '50-paths.conf';

/** Directories the service writes outside its state directory: the data directory, the audit log's, the keys'. */
export function writablePaths(config: ShelfConfig): string[] {
  const paths = storagePaths(config);
  const dirs = [paths.dataDir, dirname(paths.auditLog), dirname(paths.signingKey), dirname(paths.bundleSigningKey)];
  const outside = dirs.filter((dir) => !isWithin(dir, STATE_DIR));
  return [...new Set(outside)].filter((dir, _, all) => !all.some((other) => other !== dir && isWithin(dir, other)));
}

const isWithin = (path: string, dir: string) => !relative(dir, path).startsWith('..');

/** The unit drop-in that lets the sandboxed service (ProtectSystem=strict) write where the config says. */
export function pathsDropIn(configFile: string, paths: string[]): string {
  return [
    `# Written by \`shelf service configure\` from ${configFile}: where the service may write besides ${STATE_DIR}.`,
    '# Run it again (as root) after changing storage.dataDir, security.auditLog or a key file in the config.',
    '[Service]',
    ...paths.map((path) => `ReadWritePaths=${path}`),
    '',
  ].join('\n');
}

/** logrotate's file for the audit log: SIGUSR2 makes every worker write a new file at the path. */
export function auditLogrotate(configFile: string, auditLog: string, user: string): string {
  return `# Written by \`shelf service configure\` from ${configFile}.
${auditLog} {
  weekly
  maxsize 100M
  rotate 52
  compress
  delaycompress
  missingok
  notifempty
  su ${user} ${user}
  create 0640 ${user} ${user}
  postrotate
    systemctl kill --kill-whom=main --signal=USR2 shelf.service >/dev/null 2>&1 || true
  endscript
}
`;
}

/**
 * `shelf service configure`: the appliance's systemd drop-in and logrotate file, derived from the config;
 * `shelf service nginx-front`: the site of a front nginx that sends large verified blobs with sendfile.
 */
export function addServiceCommand(program: Command, configOption: () => Option, loadConfig: LoadConfig): void {
  const service = program.command('service').description('the systemd service of an installed appliance');
  service
    .command('configure')
    .description('as root: make the directories the config names, let the service write them (a unit drop-in), and rotate its audit log')
    .addOption(configOption())
    .option('--user <name>', 'the user the service runs as', 'shelf')
    .option('--unit-dir <dir>', "the unit's drop-in directory", '/etc/systemd/system/shelf.service.d')
    .option('--logrotate-dir <dir>', "logrotate's directory", '/etc/logrotate.d')
    .action(async (options: { config: string; user: string; unitDir: string; logrotateDir: string }) => {
      const config = loadConfig(options.config);
      const { dataDir, auditLog } = storagePaths(config);
      const paths = writablePaths(config);
      const ids = { uid: Number(execFileSync('id', ['-u', options.user], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', options.user], { encoding: 'utf8' })) };
      for (const dir of [...paths, dataDir]) {
        if (await stat(dir).then(() => true, () => false)) continue;
        // Parents as mkdir -p makes them (traversable by the service user); the directory itself is the service's.
        await mkdir(dirname(dir), { recursive: true });
        await mkdir(dir, { mode: 0o750 });
        await chown(dir, ids.uid, ids.gid);
      }
      const dropIn = join(options.unitDir, DROP_IN);
      if (paths.length > 0) {
        await mkdir(options.unitDir, { recursive: true });
        await writeFile(dropIn, pathsDropIn(options.config, paths));
        console.log(`${dropIn}: the service may write ${paths.join(', ')}`);
      } else {
        await rm(dropIn, { force: true });
      }
      const logrotate = join(options.logrotateDir, 'shelf');
      await mkdir(options.logrotateDir, { recursive: true });
      await writeFile(logrotate, auditLogrotate(options.config, auditLog, options.user));
      console.log(`${logrotate}: rotates ${auditLog}`);
      if (existsSync('/run/systemd/system')) {
        execFileSync('systemctl', ['daemon-reload']);
        console.log('systemd reloaded; `systemctl restart shelf` applies a changed config');
      }
    });
  service
    .command('nginx-front')
    .description('print (or write) the nginx site that proxies to Shelf and sends large verified blobs itself (server.xAccelLocation)')
    .addOption(configOption())
    .option('--listen <port>', "nginx's listen parameter: a port or address:port", '80')
    .option('--output <file>', 'write the site here instead of printing it')
    .action((options: { config: string; listen: string; output?: string }) =>
      (async () => {
        const site = nginxFrontSite(loadConfig(options.config), { listen: options.listen, configFile: options.config });
        if (!options.output) return void process.stdout.write(site);
        await writeFile(options.output, site);
        console.log(`${options.output}: nginx proxies port ${options.listen} to Shelf; reload nginx to apply it`);
      })().catch(commandFailed),
    );
}
