import type { Command, Option } from 'commander';
import { openStorage, type ShelfIndex } from '../app.js';
import type { ShelfConfig } from '../config/schema.js';
import { Identity } from '../security/identity.js';
import { generatePassword } from '../security/passwords.js';

type LoadConfig = (file: string) => ShelfConfig;

async function withIdentity(config: ShelfConfig, work: (identity: Identity, index: ShelfIndex) => Promise<void>): Promise<void> {
  const { index } = await openStorage(config);
  try {
    await work(new Identity(index), index);
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  } finally {
    await index.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

/** `shelf user add|list` and `shelf token create|list|revoke`, against the data directory of a config. */
export function addIdentityCommands(program: Command, configOption: () => Option, load: LoadConfig): void {
  const user = program.command('user').description('manage users');
  user
    .command('add')
    .argument('<name>', 'user name')
    .description('create a user; prints a generated password once unless --password-stdin or --no-password')
    .option('--email <address>', 'e-mail address')
    .option('--admin', 'administrator')
    .option('--password-stdin', 'read the password from standard input')
    .option('--no-password', 'a service account that authenticates with tokens only')
    .addOption(configOption())
    .action(async (name: string, options: { email?: string; admin?: boolean; passwordStdin?: boolean; password: boolean; config: string }) => {
      await withIdentity(load(options.config), async (identity) => {
        const generated = options.password && !options.passwordStdin ? generatePassword() : undefined;
        const password = !options.password ? null : options.passwordStdin ? await readStdin() : generated!;
        if (password === '') throw new Error('the password is empty');
        await identity.addUser({ name, password, ...(options.email && { email: options.email }), admin: options.admin ?? false });
        console.log(`user ${name} created${generated ? `; password (shown once): ${generated}` : ''}`);
      });
    });
  user
    .command('list')
    .description('list users')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      await withIdentity(load(options.config), async (_identity, index) => {
        for (const u of await index.listUsers()) {
          console.log([u.name, u.email ?? '-', u.admin ? 'admin' : 'user', u.disabled ? 'disabled' : 'enabled', u.passwordHash ? 'password' : 'tokens-only'].join('\t'));
        }
      });
    });

  const token = program.command('token').description('manage API tokens');
  token
    .command('create')
    .argument('<user>', 'the user the token acts as')
    .description('issue an API token; it is printed once and only its hash is stored')
    .option('--description <text>', 'what the token is for', 'created with shelf token create')
    .option('--expires-days <days>', 'days until the token expires (default: never)')
    .addOption(configOption())
    .action(async (username: string, options: { description: string; expiresDays?: string; config: string }) => {
      await withIdentity(load(options.config), async (identity) => {
        const days = options.expiresDays === undefined ? undefined : Number(options.expiresDays);
        if (days !== undefined && !(days > 0)) throw new Error('--expires-days must be a positive number');
        const expiresAt = days === undefined ? null : Date.now() + days * 86_400_000;
        const issued = await identity.issueToken(username, options.description, expiresAt);
        console.log(`token ${issued.record.id} for ${username} (expires ${when(expiresAt)}):`);
        console.log(issued.token);
      });
    });
  token
    .command('list')
    .argument('[user]', 'only this user\'s tokens')
    .description('list tokens (never their values)')
    .addOption(configOption())
    .action(async (username: string | undefined, options: { config: string }) => {
      await withIdentity(load(options.config), async (_identity, index) => {
        for (const t of await index.listTokens(username)) {
          const state = t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt <= Date.now() ? 'expired' : 'active';
          console.log([t.id, t.username, state, `created ${when(t.createdAt)}`, `expires ${when(t.expiresAt)}`, `last used ${when(t.lastUsedAt)}`, t.description].join('\t'));
        }
      });
    });
  token
    .command('revoke')
    .argument('<id>', 'token id, as `shelf token list` shows it')
    .description('revoke a token')
    .addOption(configOption())
    .action(async (id: string, options: { config: string }) => {
      await withIdentity(load(options.config), async (_identity, index) => {
        if (!(await index.revokeToken(id, Date.now()))) throw new Error(`no active token ${id}`);
        console.log(`token ${id} revoked`);
      });
    });
}
