import { normalizeProject, versionOfFile } from './names.js';
import { compareVersions } from './versions.js';

/** One line of a requirements file, as `shelf seed` can use it: a project pinned to one version. */
export interface PinnedRequirement {
  /** The line as written (without hashes), for messages. */
  line: string;
  project: string;
  version: string;
  /** sha256 digests from `--hash=sha256:…` (hash-checking mode: exactly these files). */
  hashes: string[];
}

/** A requirement that cannot be seeded as written (a range, a URL), with why. */
export interface UnpinnedRequirement {
  line: string;
  problem: string;
}

const PINNED = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;,]+)\s*(?:;.*)?$/;

/**
 * The requirements of a requirements.txt (pip's format): continuation lines joined, comments and options
 * (`-i`, `--index-url`, `-e`, …) left out. Environment markers are not evaluated: a pinned project is seeded
 * whatever its marker, so the isolated side has it for every environment the file serves.
 */
export function parseRequirements(text: string): (PinnedRequirement | UnpinnedRequirement)[] {
  const requirements: (PinnedRequirement | UnpinnedRequirement)[] = [];
  for (const raw of text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    const hashes: string[] = [];
    const withoutComment = raw.replace(/(^|\s)#.*$/, '').trim();
    const line = withoutComment
      .replace(/--hash[=\s]+(\w+):([0-9a-fA-F]+)/g, (_, algorithm: string, hex: string) => {
        if (algorithm.toLowerCase() === 'sha256') hashes.push(hex.toLowerCase());
        return '';
      })
      .trim();
    if (line === '' || line.startsWith('-')) continue;
    const pinned = PINNED.exec(line);
    if (pinned) requirements.push({ line, project: normalizeProject(pinned[1]!), version: pinned[2]!, hashes });
    else requirements.push({ line, problem: line.includes('@') || line.includes('://') ? 'a direct URL, not an index requirement' : 'not pinned to one version (use ==)' });
  }
  return requirements;
}

/** The target environments, like `pip download --platform/--python-version`; empty: every file of the version. */
export interface TargetEnvironments {
  platforms: string[];
  pythonVersions: string[];
}

/**
 * The files of a pinned version to seed: with hashes, exactly the files they name; otherwise every file of
 * the version, or, for named targets, the wheels those targets install and the sdists when no wheel fits.
 */
export function filesToSeed<F extends { filename: string; hashes: Record<string, string> }>(files: F[], pin: PinnedRequirement, targets: TargetEnvironments): F[] {
  if (pin.hashes.length > 0) return files.filter((file) => file.hashes.sha256 !== undefined && pin.hashes.includes(file.hashes.sha256.toLowerCase()));
  const ofVersion = files.filter((file) => {
    const version = versionOfFile(file.filename);
    return version !== undefined && compareVersions(version, pin.version) === 0;
  });
  if (targets.platforms.length === 0 && targets.pythonVersions.length === 0) return ofVersion;
  const wheels = ofVersion.filter((file) => file.filename.endsWith('.whl') && wheelFits(file.filename, targets));
  return wheels.length > 0 ? wheels : ofVersion.filter((file) => !file.filename.endsWith('.whl'));
}

/** Legacy manylinux names and the glibc they stand for (PEP 600). */
const MANYLINUX_ALIASES: Record<string, string> = { manylinux1: 'manylinux_2_5', manylinux2010: 'manylinux_2_12', manylinux2014: 'manylinux_2_17' };

/** A platform tag as `[family, major, minor, arch]` when it is a glibc/musl one, so older ones count as compatible. */
function linuxTag(tag: string): [string, number, number, string] | undefined {
  const alias = /^(manylinux1|manylinux2010|manylinux2014)_(.+)$/.exec(tag);
  const normal = alias ? `${MANYLINUX_ALIASES[alias[1]!]}_${alias[2]}` : tag;
  const match = /^(manylinux|musllinux)_(\d+)_(\d+)_(.+)$/.exec(normal);
  return match ? [match[1]!, Number(match[2]), Number(match[3]), match[4]!] : undefined;
}

function platformFits(tag: string, wanted: string): boolean {
  if (tag === 'any' || tag === wanted) return true;
  const [have, want] = [linuxTag(tag), linuxTag(wanted)];
  return !!have && !!want && have[0] === want[0] && have[3] === want[3] && (have[1] < want[1] || (have[1] === want[1] && have[2] <= want[2]));
}

function pythonFits(pythonTag: string, abiTag: string, version: string): boolean {
  const [major, minor = '0'] = version.split('.');
  if (pythonTag === `py${major}` || pythonTag === `py${major}${minor}` || pythonTag === `cp${major}${minor}`) return true;
  // A stable-ABI wheel built for an older CPython 3 runs on newer ones.
  const abi3 = /^cp(\d)(\d+)$/.exec(pythonTag);
  return abiTag === 'abi3' && !!abi3 && abi3[1] === major && Number(abi3[2]) <= Number(minor);
}

/** Whether a wheel installs in one of the named targets (PEP 425 tags; compressed tag sets split on `.`). */
export function wheelFits(filename: string, targets: TargetEnvironments): boolean {
  const parts = filename.slice(0, -'.whl'.length).split('-');
  if (parts.length < 5) return false;
  const [pythonTags, abiTags, platformTags] = parts.slice(-3).map((tags) => tags.split('.')) as [string[], string[], string[]];
  const pythonOk = targets.pythonVersions.length === 0 || targets.pythonVersions.some((v) => pythonTags.some((p) => abiTags.some((a) => pythonFits(p, a, v))));
  const platformOk = targets.platforms.length === 0 || targets.platforms.some((wanted) => platformTags.some((tag) => platformFits(tag, wanted)));
  return pythonOk && platformOk;
}
