import type { SecurityConfig } from '../config/schema.js';
import type { IdentityStore } from '../storage/identity-store.js';
import { resolveSecret } from '../config/secrets.js';
import { Identity } from './identity.js';
import { generatePassword } from './passwords.js';

export const INITIAL_ADMIN = 'admin';

/**
 * The groups the config's permission targets name exist (empty until members are added), so
 * `shelf user add alice --groups developers` works on a fresh install.
 */
async function ensureConfiguredGroups(store: IdentityStore, config: SecurityConfig): Promise<void> {
  const existing = new Set((await store.listGroups()).map((g) => g.name));
  for (const name of new Set(config.permissions.flatMap((target) => Object.keys(target.groups)))) {
    if (!existing.has(name)) await store.putGroup({ name, description: 'named by a permission target in the config file', members: [] });
  }
}

/**
 * On the first start (no users at all), makes the `admin` user. Its password comes from
 * `security.initialAdminPassword` or is generated and returned, for the caller to show once; there is
 * never a fixed default.
 */
export async function ensureInitialAdmin(store: IdentityStore, config: SecurityConfig): Promise<{ generatedPassword?: string } | undefined> {
  await ensureConfiguredGroups(store, config);
  if ((await store.listUsers()).length > 0) return undefined;
  const configured = config.initialAdminPassword && resolveSecret(config.initialAdminPassword);
  const password = configured || generatePassword();
  await new Identity(store).addUser({ name: INITIAL_ADMIN, password, admin: true });
  return configured ? {} : { generatedPassword: password };
}
