import { readFileSync } from 'node:fs';
import type { SecretRef } from './schema.js';

/** Reads a secret from its environment variable or file; the value is never logged. */
export function resolveSecret(ref: SecretRef): string {
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value === '') throw new Error(`environment variable ${ref.env} is not set`);
    return value;
  }
  try {
    return readFileSync(ref.file, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read secret file ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}
