import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { expandEnvInDocument, type ExpansionProblem } from './env-expansion.js';
import { configSchema, FORMAT_OPTIONS, type RemoteRepoConfig, type RepositoryConfig, type ShelfConfig } from './schema.js';
import { unknownRepositories } from '../security/permissions.js';

/** Every problem found in a config file, each prefixed with the key path it concerns. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function loadConfigFile(file: string): ShelfConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, source = '<config>'): ShelfConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `YAML: ${e.message}`));
  }
  const problems: ExpansionProblem[] = [];
  const expanded = expandEnvInDocument(doc.toJS() ?? {}, [], problems);
  const unconfigured = unsetUpstreamUrls(expanded, problems);
  const fatal = problems.filter((p) => !unconfigured.has(p));
  if (fatal.length > 0) {
    throw new ConfigError(source, fatal.map((p) => `${formatKeyPath(p.path) || '(top level)'}: ${p.message}`));
  }
  const config = validateConfig(expanded, source);
  for (const [problem, index] of unconfigured) (config.repositories[index] as RemoteRepoConfig).unsetVariables = problem.unset;
  return config;
}

/** Where a remote repository's URL lacks its environment variable (unset in a service's environment, say). */
const NOT_CONFIGURED_URL = 'http://not-configured.invalid/';

/**
 * A remote repository whose `url` names an unset environment variable does not stop Shelf: that repository is
 * kept, marked not configured (it answers 503 naming the variable), and everything else works. Returns those
 * problems, each with the repository's index, after putting a placeholder URL in the document.
 */
function unsetUpstreamUrls(document: unknown, problems: ExpansionProblem[]): Map<ExpansionProblem, number> {
  const found = new Map<ExpansionProblem, number>();
  const repositories = (document as { repositories?: unknown }).repositories;
  if (!Array.isArray(repositories)) return found;
  for (const problem of problems) {
    const [top, index, key] = problem.path;
    if (top !== 'repositories' || typeof index !== 'number' || key !== 'url' || problem.path.length !== 3 || !problem.unset) continue;
    const repo = repositories[index] as Record<string, unknown> | undefined;
    if (repo?.type !== 'remote') continue;
    repo.url = NOT_CONFIGURED_URL;
    found.set(problem, index);
  }
  return found;
}

/** The repositories that are not configured, with the environment variables each one needs. */
export function unconfiguredRepositories(config: ShelfConfig): { key: string; variables: string[] }[] {
  return config.repositories.flatMap((repo) =>
    repo.type === 'remote' && (repo as RemoteRepoConfig).unsetVariables
      ? [{ key: repo.key, variables: (repo as RemoteRepoConfig).unsetVariables! }]
      : [],
  );
}

export function validateConfig(raw: unknown, source = '<config>'): ShelfConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, parsed.error.issues.map(describeIssue));
  const problems = [...checkRepositoryGraph(parsed.data.repositories), ...checkFormatOptions(parsed.data), ...checkPermissions(parsed.data)];
  if (problems.length > 0) throw new ConfigError(source, problems);
  return parsed.data;
}

/** Permission targets name repositories that exist (or ANY, ANY LOCAL, ANY REMOTE), each target once. */
function checkPermissions(config: ShelfConfig): string[] {
  const keys = config.repositories.map((r) => r.key);
  const names = new Set<string>();
  const problems: string[] = [];
  config.security.permissions.forEach((target, i) => {
    if (names.has(target.name)) problems.push(`security.permissions[${i}].name: "${target.name}" is used twice`);
    names.add(target.name);
    const unknown = unknownRepositories(target.repositories, keys);
    target.repositories.forEach((key, r) => {
      if (unknown.includes(key)) problems.push(`security.permissions[${i}].repositories[${r}]: no repository "${key}"`);
    });
  });
  return problems;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = formatKeyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${formatKeyPath([...issue.path, k])}: unknown key`).join('; ');
  }
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return `${path}: must be one of local, remote, virtual`;
  }
  return `${path || '(top level)'}: ${issue.message}`;
}

export function formatKeyPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

/** Cross-repository rules that a schema cannot express: unique keys, known members of the same format, no cycles. */
function checkRepositoryGraph(repos: RepositoryConfig[]): string[] {
  const problems: string[] = [];
  const byKey = new Map<string, RepositoryConfig>();
  repos.forEach((repo, i) => {
    if (byKey.has(repo.key)) problems.push(`repositories[${i}].key: duplicate key "${repo.key}"`);
    else byKey.set(repo.key, repo);
  });
  repos.forEach((repo, i) => {
    if (repo.type !== 'virtual') return;
    repo.members.forEach((member, m) => {
      const target = byKey.get(member);
      if (!target) problems.push(`repositories[${i}].members[${m}]: no repository "${member}"`);
      else if (target.format !== repo.format) {
        problems.push(`repositories[${i}].members[${m}]: "${member}" is ${target.format}, not ${repo.format}`);
      }
    });
    if (repo.defaultDeployRepo !== undefined) {
      const target = byKey.get(repo.defaultDeployRepo);
      if (!repo.members.includes(repo.defaultDeployRepo)) {
        problems.push(`repositories[${i}].defaultDeployRepo: "${repo.defaultDeployRepo}" is not a member`);
      } else if (target && target.type !== 'local') {
        problems.push(`repositories[${i}].defaultDeployRepo: "${repo.defaultDeployRepo}" is not a local repository`);
      }
    }
    const cycle = findCycle(repo.key, byKey, []);
    if (cycle) problems.push(`repositories[${i}].members: cycle ${cycle.join(' -> ')}`);
  });
  return problems;
}

/** Format-specific options only on repositories of that format; the default Docker repository exists. */
function checkFormatOptions(config: ShelfConfig): string[] {
  const problems: string[] = [];
  config.repositories.forEach((repo, i) => {
    for (const [option, formats] of Object.entries(FORMAT_OPTIONS)) {
      if ((repo as Record<string, unknown>)[option] !== undefined && !formats.includes(repo.format)) {
        problems.push(`repositories[${i}].${option}: only for ${formats.join(' and ')} repositories`);
      }
    }
    if (repo.type === 'virtual') {
      repo.packageRoutes?.forEach((route, r) => {
        route.members.forEach((member, m) => {
          if (!repo.members.includes(member)) {
            problems.push(`repositories[${i}].packageRoutes[${r}].members[${m}]: "${member}" is not a member`);
          }
        });
      });
    }
  });
  const defaultDocker = config.docker.defaultRepository;
  if (defaultDocker !== undefined) {
    const repo = config.repositories.find((r) => r.key === defaultDocker);
    if (!repo) problems.push(`docker.defaultRepository: no repository "${defaultDocker}"`);
    else if (repo.format !== 'docker') problems.push(`docker.defaultRepository: "${defaultDocker}" is ${repo.format}, not docker`);
  }
  return problems;
}

function findCycle(key: string, byKey: Map<string, RepositoryConfig>, trail: string[]): string[] | undefined {
  if (trail.includes(key)) return [...trail, key];
  const repo = byKey.get(key);
  if (!repo || repo.type !== 'virtual') return undefined;
  for (const member of repo.members) {
    const cycle = findCycle(member, byKey, [...trail, key]);
    if (cycle) return cycle;
  }
  return undefined;
}
