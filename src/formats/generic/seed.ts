import type { SeedItem } from '../../seed/seeder.js';

/** `shelf seed` from a list of paths, one per line (`#` comments). */
export function genericSeedItems(text: string): SeedItem[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim().replace(/^\/+/, ''))
    .filter((line) => line !== '')
    .map((path) => ({
      label: path,
      run: async (session) => {
        if (path.split('/').some((segment) => segment === '..' || segment === '.' || segment === '')) throw new Error(`${path} is not a repository path`);
        await session.file(`/${[session.repo, ...path.split('/')].map(encodeURIComponent).join('/')}`);
        session.keep(path);
      },
    }));
}
