import { notFound } from '../../errors.js';
import { checkPathToken, splitPackageName } from './names.js';

/** What a request below `/<repoKey>/` means to the npm registry protocol. */
export type NpmRoute =
  | { kind: 'ping' }
  | { kind: 'whoami' }
  | { kind: 'login'; username: string }
  | { kind: 'logout'; token: string }
  | { kind: 'search' }
  /** `/-/npm/v1/security/<endpoint>`: advisories/bulk, audits/quick, audits. */
  | { kind: 'audit'; endpoint: string }
  | { kind: 'dist-tags'; name: string; tag?: string }
  /** The packument; `rev` is present on npm's unpublish requests (`/<name>/-rev/<rev>`). */
  | { kind: 'package'; name: string; rev?: string }
  | { kind: 'version'; name: string; spec: string }
  | { kind: 'tarball'; name: string; file: string; rev?: string };

const TARBALL_FILE = /^[A-Za-z0-9][A-Za-z0-9._~+-]*\.tgz$/;

export function parseNpmRoute(segments: string[]): NpmRoute {
  const what = () => notFound(`npm endpoint /${segments.join('/')}`);
  if (segments[0] === '-') {
    const rest = segments.slice(1);
    const joined = rest.join('/');
    if (joined === 'ping') return { kind: 'ping' };
    if (joined === 'whoami') return { kind: 'whoami' };
    if (joined === 'v1/search') return { kind: 'search' };
    if (joined.startsWith('npm/v1/security/')) return { kind: 'audit', endpoint: rest.slice(3).join('/') };
    if (rest[0] === 'user' && rest.length === 2 && rest[1]!.startsWith('org.couchdb.user:')) {
      return { kind: 'login', username: rest[1]!.slice('org.couchdb.user:'.length) };
    }
    if (rest[0] === 'user' && rest[1] === 'token' && rest.length === 3) return { kind: 'logout', token: rest[2]! };
    if (rest[0] === 'package') {
      const { name, rest: after } = splitPackageName(rest.slice(1));
      if (after[0] === 'dist-tags' && after.length <= 2) {
        return { kind: 'dist-tags', name, ...(after[1] !== undefined && { tag: checkPathToken('dist-tag', after[1]) }) };
      }
    }
    throw what();
  }
  const { name, rest } = splitPackageName(segments);
  if (rest.length === 0) return { kind: 'package', name };
  if (rest[0] === '-rev' && rest.length === 2) return { kind: 'package', name, rev: rest[1]! };
  if (rest[0] === '-') {
    let parts = rest.slice(1);
    let rev: string | undefined;
    if (parts.length >= 3 && parts[parts.length - 2] === '-rev') {
      rev = parts[parts.length - 1];
      parts = parts.slice(0, -2);
    }
    // npm links a scoped tarball as `@scope/name/-/@scope/name-1.0.0.tgz`; the registry's file is `name-1.0.0.tgz`.
    let file = parts.join('/');
    const scope = name.startsWith('@') ? name.slice(0, name.indexOf('/') + 1) : undefined;
    if (scope && file.startsWith(scope)) file = file.slice(scope.length);
    if (!TARBALL_FILE.test(file)) throw what();
    return { kind: 'tarball', name, file, ...(rev !== undefined && { rev }) };
  }
  if (rest.length === 1) return { kind: 'version', name, spec: checkPathToken('version or tag', rest[0]!) };
  throw what();
}
