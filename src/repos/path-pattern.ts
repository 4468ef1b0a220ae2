/**
 * Ant-style path patterns, as Artifactory and Nexus users write them: `*` matches within one segment,
 * `**` matches any number of whole segments, `?` one character.
 */
export class PathPattern {
  private readonly regex: RegExp;

  constructor(readonly source: string) {
    this.regex = new RegExp(`^${toRegexSource(source)}$`);
  }

  matches(path: string): boolean {
    return this.regex.test(path);
  }
}

function toRegexSource(pattern: string): string {
  const segments = pattern.split('/');
  let out = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') {
      // Zero or more whole segments, including their separators.
      out += last ? '.*' : '(?:[^/]*/)*';
      return;
    }
    out += segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
    if (!last) out += '/';
  });
  return out;
}

/** A path passes when it matches an include pattern and no exclude pattern. */
export class PathFilter {
  private readonly includes: PathPattern[];
  private readonly excludes: PathPattern[];

  constructor(includes: string[], excludes: string[]) {
    this.includes = includes.map((p) => new PathPattern(p));
    this.excludes = excludes.map((p) => new PathPattern(p));
  }

  allows(path: string): boolean {
    return this.includes.some((p) => p.matches(path)) && !this.excludes.some((p) => p.matches(path));
  }
}
