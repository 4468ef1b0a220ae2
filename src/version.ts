import { readFileSync } from 'node:fs';

/** This release's version, from its package.json (a packaged build may carry its own). */
export const SHELF_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
