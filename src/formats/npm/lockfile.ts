import { parse as parseYaml } from 'yaml';

/** One package version a lockfile pins, as the registry knows it. */
export interface LockedPackage {
  name: string;
  version: string;
  /** The lockfile's SRI integrity, when it records one. */
  integrity?: string;
}

/**
 * The registry packages an npm, pnpm or yarn (v1) lockfile pins, once each. Entries that do not come from a
 * registry (links, workspaces, git, local files, bundled dependencies) are left out: nothing to seed.
 */
export function lockedPackages(fileName: string, text: string): LockedPackage[] {
  const unique = new Map<string, LockedPackage>();
  for (const pkg of parserOf(fileName, text)(text)) unique.set(`${pkg.name}@${pkg.version}`, pkg);
  return [...unique.values()];
}

/** By the file's name, as the tools write it; under another name, by what it starts with. */
function parserOf(fileName: string, text: string): (text: string) => LockedPackage[] {
  const base = fileName.split(/[\\/]/).pop()!;
  if (base === 'package-lock.json' || base === 'npm-shrinkwrap.json' || (!base.endsWith('.yaml') && /^\s*\{/.test(text))) return npmLock;
  if (base === 'pnpm-lock.yaml' || /^lockfileVersion:/m.test(text)) return pnpmLock;
  if (base === 'yarn.lock' || /^# yarn lockfile v1|^__metadata:/m.test(text)) return yarnLock;
  throw new Error(`${base} is not a lockfile shelf seed reads (package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock)`);
}

const fromRegistry = (resolved: unknown) => resolved === undefined || (typeof resolved === 'string' && /^https?:\/\//.test(resolved));

/** package-lock.json v2 and v3: the flat `packages` map, keyed by install location. */
function npmLock(text: string): LockedPackage[] {
  const lock = JSON.parse(text) as { lockfileVersion?: number; packages?: Record<string, Record<string, unknown>> };
  if (!lock.packages) throw new Error(`package-lock.json version ${lock.lockfileVersion ?? 1} has no "packages" map; npm 7 or later writes version 2 or 3 (run npm install once to upgrade it)`);
  const found: LockedPackage[] = [];
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === '' || entry.link === true || entry.inBundle === true || typeof entry.version !== 'string') continue;
    if (!location.includes('node_modules/') || !fromRegistry(entry.resolved)) continue;
    const name = typeof entry.name === 'string' ? entry.name : location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
    found.push({ name, version: entry.version, ...(typeof entry.integrity === 'string' && { integrity: entry.integrity }) });
  }
  return found;
}

/** pnpm-lock.yaml 5 to 9: `packages` keyed `/name/1.0.0`, `/name@1.0.0(peer@2)` or `name@1.0.0`. */
function pnpmLock(text: string): LockedPackage[] {
  const lock = parseYaml(text) as { packages?: Record<string, { resolution?: { integrity?: string; tarball?: string; type?: string }; name?: string; version?: string }> };
  const found: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    const resolution = entry.resolution ?? {};
    if (resolution.type !== undefined || (resolution.tarball !== undefined && !fromRegistry(resolution.tarball))) continue;
    const id = key.replace(/^\//, '').replace(/\(.*$/, '');
    const at = id.lastIndexOf('@');
    const [name, version] = at > 0 ? [id.slice(0, at), id.slice(at + 1)] : [id.slice(0, id.lastIndexOf('/')), id.slice(id.lastIndexOf('/') + 1).replace(/_.*$/, '')];
    if (!name || !version || version.includes(':')) continue;
    found.push({ name: entry.name ?? name, version: entry.version ?? version, ...(resolution.integrity && { integrity: resolution.integrity }) });
  }
  return found;
}

/** yarn.lock v1: blocks headed by the specs they satisfy, with `version`, `resolved` and `integrity` lines. */
function yarnLock(text: string): LockedPackage[] {
  if (/^__metadata:/m.test(text)) throw new Error('this yarn.lock is from yarn 2 or later (Berry); shelf seed reads yarn 1 lockfiles');
  const found: LockedPackage[] = [];
  let current: { name: string; fields: Record<string, string> } | undefined;
  const finish = () => {
    const { version, resolved, integrity } = current?.fields ?? {};
    if (current && version && fromRegistry(resolved)) found.push({ name: current.name, version, ...(integrity && { integrity }) });
    current = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      finish();
      const spec = line.replace(/:$/, '').split(',')[0]!.trim().replace(/^"|"$/g, '');
      const target = spec.includes('@npm:') ? spec.slice(spec.indexOf('@npm:') + '@npm:'.length) : spec;
      const at = target.lastIndexOf('@');
      current = { name: at > 0 ? target.slice(0, at) : target, fields: {} };
      continue;
    }
    const field = /^ {2}(\w+) "?([^"]*)"?$/.exec(line);
    if (current && field) current.fields[field[1]!] = field[2]!;
  }
  finish();
  return found;
}
