import { badRequest } from '../../errors.js';

/** Scoped (`@scope/name`) or not; legacy names may hold capitals, new ones may not (checked at publish). */
const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;

/** Where a package's files live inside a repository. Package metadata sits below `.npm/`, which no name can start with. */
export const npmPaths = {
  /** A whole packument as an upstream serves it (remote repositories). */
  packument: (name: string) => `.npm/${name}/package.json`,
  /** Everything a local repository records about a package besides its tarballs. */
  hostedPrefix: (name: string) => `.npm/${name}/`,
  version: (name: string, version: string) => `.npm/${name}/versions/${version}.json`,
  distTag: (name: string, tag: string) => `.npm/${name}/dist-tags/${tag}`,
  deprecation: (name: string, version: string) => `.npm/${name}/deprecated/${version}`,
  tarballPrefix: (name: string) => `${name}/-/`,
  tarball: (name: string, file: string) => `${name}/-/${file}`,
};

/** The package a path of the layout belongs to: `.npm/<name>/…` or `<name>/-/<file>`. */
export function packageOfPath(path: string): string | undefined {
  const match = /^(?:\.npm\/)?((?:@[^/]+\/)?[^/@.][^/]*)\//.exec(path);
  return match?.[1];
}

function checkPackageName(name: string): string {
  if (name.length > 214 || !NAME.test(name)) throw badRequest(`invalid package name: ${name}`);
  return name;
}

/** The rules npm applies to names of new packages (no capitals). */
export function checkNewPackageName(name: string): string {
  checkPackageName(name);
  if (name !== name.toLowerCase()) throw badRequest(`new package names must be lower case: ${name}`);
  return name;
}

/** A version or dist-tag as it may appear in a path: no separators, nothing a path could misread. */
export function checkPathToken(kind: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,255}$/.test(value)) throw badRequest(`invalid ${kind}: ${value}`);
  return value;
}

/** The name as a registry URL segment: `@scope%2fname`, as npm itself asks for it. */
export const encodePackageName = (name: string) => encodeURIComponent(name).replace(/^%40/, '@');

/** The tarball file name of a version, as the public registry names it (unscoped: `name-1.0.0.tgz`). */
export const tarballFileName = (name: string, version: string) => `${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;

/** The inverse of tarballFileName: the version a package's tarball file holds, if it is named like one. */
export function versionOfTarball(name: string, file: string): string | undefined {
  const unscoped = name.replace(/^@[^/]+\//, '');
  return file.startsWith(`${unscoped}-`) && file.endsWith('.tgz') ? file.slice(unscoped.length + 1, -'.tgz'.length) : undefined;
}

/** The inverse of npmPaths.version: `.npm/<name>/versions/<version>.json`. */
export function parseVersionPath(path: string): { name: string; version: string } | undefined {
  const match = /^\.npm\/((?:@[^/]+\/)?[^/]+)\/versions\/(.+)\.json$/.exec(path);
  return match ? { name: match[1]!, version: match[2]! } : undefined;
}

/**
 * Splits the decoded path segments after the repository key into a package name and what follows it.
 * A scoped name arrives as one segment (`@scope%2fname`, how npm sends it) or as two (`@scope/name`).
 */
export function splitPackageName(segments: string[]): { name: string; rest: string[] } {
  const [first, second, ...more] = segments;
  if (first === undefined) throw badRequest('no package name');
  if (first.startsWith('@') && !first.includes('/')) {
    if (second === undefined) throw badRequest(`incomplete scoped package name: ${first}`);
    return { name: checkPackageName(`${first}/${second}`), rest: more };
  }
  return { name: checkPackageName(first), rest: segments.slice(1) };
}
