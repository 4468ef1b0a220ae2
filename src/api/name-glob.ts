/**
 * What a name search matches: a glob over a file's path in the repository, in any case. `*` is any text,
 * `?` one character, `[abc]`/`[!abc]` one of (or none of) those. A pattern without a wildcard matches any
 * path containing it; one without a `/` may match from any folder down.
 */
export function nameMatcher(pattern: string): (path: string) => boolean {
  const text = pattern.trim();
  const glob = /[*?[]/.test(text) ? (text.includes('/') || text.startsWith('*') ? text : `*${text}`) : `*${text}*`;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[' && glob.indexOf(']', i + 2) !== -1) {
      const end = glob.indexOf(']', i + 2);
      const body = glob.slice(i + 1, end);
      const negated = body.startsWith('!');
      source += `[${negated ? '^' : ''}${(negated ? body.slice(1) : body).replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`, 'isu');
  return (path) => regex.test(path);
}
