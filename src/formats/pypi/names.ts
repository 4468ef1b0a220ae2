import { badRequest } from '../../errors.js';

/** PEP 503: runs of `-`, `_` and `.` become one `-`, all lower case. */
export const normalizeProject = (name: string) => name.replace(/[-_.]+/g, '-').toLowerCase();

/** A project name as PEP 508 allows it (letters, digits, `-_.`, starting and ending alphanumeric). */
const PROJECT = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/;
/** A distribution file name: no separators, and one of the formats pip installs. */
const DIST_FILE = /^[A-Za-z0-9][A-Za-z0-9._+!-]*\.(whl|tar\.gz|zip|tar\.bz2|tgz)$/;

export function checkProject(name: string): string {
  if (!PROJECT.test(name)) throw badRequest(`invalid project name: ${name}`);
  return name;
}

export function checkDistFile(filename: string): string {
  if (!DIST_FILE.test(filename) || filename.includes('..')) throw badRequest(`invalid distribution file name: ${filename}`);
  return filename;
}

/** Where a project's files and metadata live inside a repository; Shelf's own records sit below `.pypi/`. */
export const pypiPaths = {
  file: (project: string, filename: string) => `packages/${project}/${filename}`,
  /** PEP 658 core metadata of a file (the wheel's METADATA). */
  metadata: (project: string, filename: string) => `packages/${project}/${filename}.metadata`,
  /** What an upload told Shelf about a file (version, digests, Requires-Python, summary). */
  fileRecord: (project: string, filename: string) => `.pypi/${project}/files/${filename}.json`,
  /** Everything a local repository records about a project: file records, yank marks. */
  hostedPrefix: (project: string) => `.pypi/${project}/`,
  /** PEP 592: a hosted file yanked, with the reason as content (empty: no reason given). */
  yank: (project: string, filename: string) => `.pypi/${project}/yanked/${filename}`,
  /** A remote's cached copy of the upstream's project page. */
  page: (project: string) => `.pypi/${project}/page`,
  /** A remote's cached copy of the upstream's project list. */
  projectList: '.pypi/-/projects',
};

/** The project a path of the layout belongs to: `packages/<project>/…` or `.pypi/<project>/…` (not `.pypi/-/`). */
export function projectOfPath(path: string): string | undefined {
  const project = /^(?:packages|\.pypi)\/([^/]+)\//.exec(path)?.[1];
  return project === '-' ? undefined : project;
}

/**
 * The version in a distribution file name: wheels are `name-version(-build)?-py-abi-platform.whl`
 * (PEP 427), sdists `name-version.tar.gz`, where the name's own `-` were turned into `_`.
 */
export function versionOfFile(filename: string): string | undefined {
  if (filename.endsWith('.whl')) return filename.split('-')[1];
  return /^.+?-(\d[^-]*?)\.(?:tar\.gz|zip|tar\.bz2|tgz)$/.exec(filename)?.[1];
}

export const packageType = (filename: string) => (filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist');
