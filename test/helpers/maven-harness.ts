import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxUpstream } from './nginx-upstream.js';
import { runTool, type ToolResult } from './run-tool.js';

const HARNESS = new URL('../harness/maven/', import.meta.url).pathname;

/** Debian's /usr/share/maven-repo (real plugins, junit) as a Central-like layout with checksums and metadata, built once per machine. */
export function mavenFixtureRepo(): string {
  const dir = join(tmpdir(), 'shelf-test-maven-repo');
  execFileSync('bash', [join(HARNESS, 'fixture-repo.sh'), dir]);
  return dir;
}

/** nginx serving a hard-linked copy of the fixture repository (cheap; replace a file, never write into one). */
export async function startMavenUpstream(t: { teardown(fn: () => unknown): void }): Promise<NginxUpstream> {
  const upstream = new NginxUpstream();
  execFileSync('cp', ['-al', `${mavenFixtureRepo()}/.`, upstream.root]);
  t.teardown(() => upstream.dispose());
  await upstream.start();
  return upstream;
}

/** A copy of the harness's sample project (compile, junit test, jar, deploy), with its own empty local repository. */
export class MavenProject {
  readonly root = mkdtempSync(join(tmpdir(), 'shelf-maven-'));
  readonly dir = join(this.root, 'project');

  /** `credentials` (`user:password`) are sent for server id "shelf": the mirror and the deploy repository. */
  constructor(mirrorUrl: string, version?: string, credentials?: string) {
    execFileSync('cp', ['-r', join(HARNESS, 'sample'), this.dir]);
    if (version) execFileSync('sed', ['-i', `s#<version>1.0.0</version>#<version>${version}</version>#`, join(this.dir, 'pom.xml')]);
    writeFileSync(join(this.root, 'settings.xml'), execFileSync('bash', [join(HARNESS, 'settings.sh'), mirrorUrl, ...(credentials ? [credentials] : [])]));
  }

  /** mvn in batch mode with the mirror settings and a local repository of its own. */
  mvn(...args: string[]): Promise<ToolResult> {
    return runTool('mvn', ['-B', '-s', join(this.root, 'settings.xml'), `-Dmaven.repo.local=${join(this.root, 'm2')}`, ...args], { PATH: process.env.PATH, HOME: this.root }, this.dir);
  }

  /** Forgets everything downloaded, as a fresh CI machine would. */
  clearLocalRepository(): void {
    rmSync(join(this.root, 'm2'), { recursive: true, force: true });
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function mavenProject(t: { teardown(fn: () => unknown): void }, mirrorUrl: string, version?: string, credentials?: string): MavenProject {
  const project = new MavenProject(mirrorUrl, version, credentials);
  t.teardown(() => project.remove());
  return project;
}
