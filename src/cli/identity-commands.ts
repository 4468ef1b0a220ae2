import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command, Option } from 'commander';
import { parse } from 'yaml';
import { openStorage, storagePaths } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { SecurityAdministration, type Actor } from '../security/administration.js';
import { AuditLog } from '../security/audit-log.js';
import { Identity } from '../security/identity.js';
import { generatePassword } from '../security/passwords.js';
import { commaList } from './comma-list.js';

type LoadConfig = (file: string) => ShelfConfig;
type Work = (admin: SecurityAdministration, actor: Actor) => Promise<void>;

/** Runs one change against the data directory of a config, audited as the operator's OS account. */
async function withAdministration(config: ShelfConfig, work: Work): Promise<void> {
  const { index } = await openStorage(config);
  const audit = new AuditLog(storagePaths(config).auditLog);
  try {
    await work(new SecurityAdministration(index, new Identity(index), audit, config), {
      user: `cli:${userInfo().username}`,
    });
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  } finally {
    await audit.close();
    await index.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

/**
 * `shelf user|group|permission|token ...`: the same administration as /api/security/, against the data
 * directory of a config (the server need not run, and sees changes at once when it does).
 */
export function addIdentityCommands(program: Command, configOption: () => Option, load: LoadConfig): void {
  const run = (config: string, work: Work) => withAdministration(load(config), work);
  const addRemove = (parent: Command, what: string, description: string, remove: (admin: SecurityAdministration, actor: Actor, name: string) => Promise<void>) =>
    parent
      .command('remove')
      .argument('<name>', `${what} name`)
      .description(description)
      .addOption(configOption())
      .action(async (name: string, options: { config: string }) => {
        await run(options.config, async (admin, actor) => {
          await remove(admin, actor, name);
          console.log(`${what} ${name} removed`);
        });
      });

  const user = program.command('user').description('manage users');
  user
    .command('add')
    .argument('<name>', 'user name')
    .description('create a user; prints a generated password once unless --password-stdin or --no-password')
    .option('--email <address>', 'e-mail address')
    .option('--admin', 'administrator')
    .option('--groups <names>', 'comma-separated groups to join')
    .option('--password-stdin', 'read the password from standard input')
    .option('--no-password', 'a service account that authenticates with tokens only')
    .addOption(configOption())
    .action(async (name: string, options: { email?: string; admin?: boolean; groups?: string; passwordStdin?: boolean; password: boolean; config: string }) => {
      await run(options.config, async (admin, actor) => {
        const generated = options.password && !options.passwordStdin ? generatePassword() : undefined;
        const password = !options.password ? null : options.passwordStdin ? await readStdin() : generated!;
        if (password === '') throw new Error('the password is empty');
        await admin.createUser(actor, name, {
          password,
          ...(options.email && { email: options.email }),
          admin: options.admin ?? false,
          ...(options.groups && { groups: commaList(options.groups) }),
        });
        console.log(`user ${name} created${generated ? `; password (shown once): ${generated}` : ''}`);
      });
    });
  user
    .command('set')
    .argument('<name>', 'user name')
    .description('change a user')
    .option('--email <address>', 'e-mail address')
    .option('--admin <yes|no>', 'administrator or not')
    .option('--disabled <yes|no>', 'refuse every login and token of the user, or not')
    .option('--groups <names>', 'comma-separated groups: exactly these')
    .option('--password-stdin', 'read a new password from standard input')
    .addOption(configOption())
    .action(async (name: string, options: { email?: string; admin?: string; disabled?: string; groups?: string; passwordStdin?: boolean; config: string }) => {
      await run(options.config, async (admin, actor) => {
        const yes = (value: string | undefined) => (value === undefined ? undefined : value === 'yes');
        await admin.putUser(actor, name, {
          ...(options.email !== undefined && { email: options.email }),
          ...(options.admin !== undefined && { admin: yes(options.admin) }),
          ...(options.disabled !== undefined && { disabled: yes(options.disabled) }),
          ...(options.groups !== undefined && { groups: commaList(options.groups) }),
          ...(options.passwordStdin && { password: await readStdin() }),
        });
        console.log(`user ${name} changed`);
      });
    });
  user
    .command('list')
    .description('list users')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      await run(options.config, async (admin) => {
        for (const u of await admin.listUsers()) {
          const kind = [u.admin ? 'admin' : 'user', u.disabled ? 'disabled' : 'enabled', u.passwordLogin ? 'password' : 'tokens-only'];
          console.log([u.name, u.email ?? '-', ...kind, u.groups.join(',') || '-'].join('\t'));
        }
      });
    });
  addRemove(user, 'user', 'delete a user with their tokens', (admin, actor, name) => admin.deleteUser(actor, name));

  const group = program.command('group').description('manage groups');
  group
    .command('set')
    .argument('<name>', 'group name')
    .description('create a group, or replace its description and members')
    .option('--description <text>', 'what the group is for', '')
    .option('--members <users>', 'comma-separated user names', '')
    .addOption(configOption())
    .action(async (name: string, options: { description: string; members: string; config: string }) => {
      await run(options.config, async (admin, actor) => {
        await admin.putGroup(actor, name, { description: options.description, members: commaList(options.members) });
        console.log(`group ${name} saved`);
      });
    });
  group
    .command('list')
    .description('list groups and their members')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      await run(options.config, async (admin) => {
        for (const g of await admin.listGroups()) console.log([g.name, g.members.join(',') || '-', g.description].join('\t'));
      });
    });
  addRemove(group, 'group', 'delete a group', (admin, actor, name) => admin.deleteGroup(actor, name));

  const permission = program.command('permission').description('manage permission targets');
  permission
    .command('set')
    .argument('<name>', 'permission target name')
    .argument('<file>', 'the target as YAML or JSON (repositories, includes, excludes, anonymous, users, groups); - for stdin')
    .description('create or replace a permission target')
    .addOption(configOption())
    .action(async (name: string, file: string, options: { config: string }) => {
      await run(options.config, async (admin, actor) => {
        const text = file === '-' ? await readStdin() : readFileSync(file, 'utf8');
        await admin.putPermission(actor, name, parse(text));
        console.log(`permission target ${name} saved`);
      });
    });
  permission
    .command('list')
    .description('list permission targets, from the config file and from the index')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      await run(options.config, async (admin) => {
        for (const p of await admin.listPermissions()) {
          const grants = [
            ...(p.anonymous.length > 0 ? [`anonymous:${p.anonymous.join('+')}`] : []),
            ...Object.entries(p.users).map(([u, a]) => `user ${u}:${a.join('+')}`),
            ...Object.entries(p.groups).map(([g, a]) => `group ${g}:${a.join('+')}`),
          ];
          const patterns = `${p.includes.join(',')}${p.excludes.length > 0 ? ` -${p.excludes.join(',-')}` : ''}`;
          console.log([p.name, p.source, p.repositories.join(','), patterns, grants.join('; ')].join('\t'));
        }
      });
    });
  addRemove(permission, 'permission target', 'delete a permission target kept in the index', (admin, actor, name) => admin.deletePermission(actor, name));

  const token = program.command('token').description('manage API tokens');
  token
    .command('create')
    .argument('<user>', 'the user the token acts as')
    .description('issue an API token; it is printed once and only its hash is stored')
    .option('--description <text>', 'what the token is for', 'created with shelf token create')
    .option('--expires-days <days>', 'days until the token expires (default: never)')
    .option('--repositories <keys>', 'scope: only these repositories (comma-separated; ANY for all)')
    .option('--actions <actions>', 'scope: only these actions (comma-separated: read,write,delete,annotate,manage)')
    .addOption(configOption())
    .action(async (username: string, options: { description: string; expiresDays?: string; repositories?: string; actions?: string; config: string }) => {
      await run(options.config, async (admin, actor) => {
        const days = options.expiresDays === undefined ? undefined : Number(options.expiresDays);
        if (days !== undefined && !(days > 0)) throw new Error('--expires-days must be a positive number');
        if ((options.repositories === undefined) !== (options.actions === undefined)) throw new Error('a scope needs both --repositories and --actions');
        const issued = await admin.createToken(actor, username, {
          description: options.description,
          ...(days !== undefined && { expiresInSeconds: Math.round(days * 86_400) }),
          ...(options.repositories && { scope: { repositories: commaList(options.repositories), actions: commaList(options.actions!) } }),
        });
        console.log(`token ${issued.id} for ${username} (expires ${when(issued.expiresAt)}):`);
        console.log(issued.token);
      });
    });
  token
    .command('list')
    .argument('[user]', 'only this user\'s tokens')
    .description('list tokens (never their values)')
    .addOption(configOption())
    .action(async (username: string | undefined, options: { config: string }) => {
      await run(options.config, async (admin) => {
        for (const t of await admin.listTokens(username)) {
          const scope = t.scope ? `scope ${t.scope.repositories.join(',')}:${t.scope.actions.join(',')}` : 'scope all';
          console.log([t.id, t.username, t.state, `created ${when(t.createdAt)}`, `expires ${when(t.expiresAt)}`, `last used ${when(t.lastUsedAt)}`, scope, t.description].join('\t'));
        }
      });
    });
  token
    .command('revoke')
    .argument('<id>', 'token id, as `shelf token list` shows it')
    .description('revoke a token')
    .addOption(configOption())
    .action(async (id: string, options: { config: string }) => {
      await run(options.config, async (admin, actor) => {
        await admin.revokeToken(actor, id);
        console.log(`token ${id} revoked`);
      });
    });
}
