import type { SecurityConfig } from '../config/schema.js';
import type { IdentityStore } from '../storage/identity-store.js';
import { resolveSecret } from '../config/secrets.js';
import { Identity } from './identity.js';
import { generatePassword } from './passwords.js';

export const INITIAL_ADMIN = 'admin';

/**
 * On the first start (no users at all), makes the `admin` user. Its password comes from
 * `security.initialAdminPassword` or is generated and returned, for the caller to show once; there is
 * never a fixed default.
 */
export async function ensureInitialAdmin(store: IdentityStore, config: SecurityConfig): Promise<{ generatedPassword?: string } | undefined> {
  if ((await store.listUsers()).length > 0) return undefined;
  const configured = config.initialAdminPassword && resolveSecret(config.initialAdminPassword);
  const password = configured || generatePassword();
  await new Identity(store).addUser({ name: INITIAL_ADMIN, password, admin: true });
  return configured ? {} : { generatedPassword: password };
}
