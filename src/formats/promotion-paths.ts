import type { Repository } from '../repos/repository.js';

/** The paths a path selection stands for: the file at it, or every file below it as a folder. */
export async function filesAt(repo: Repository, path: string): Promise<string[]> {
  if (await repo.record(path)) return [path];
  return (await repo.list({ prefix: `${path.replace(/\/$/, '')}/` })).map((record) => record.path);
}

/** Of `paths`, those the repository holds (optional companions of a file: metadata, deprecations). */
export async function existing(repo: Repository, paths: string[]): Promise<string[]> {
  const held: string[] = [];
  for (const path of paths) if (await repo.record(path)) held.push(path);
  return held;
}
