/**
 * Maven's version order (ComparableVersion): numbers compare as numbers, the well-known qualifiers in
 * the order alpha < beta < milestone < rc = cr < snapshot < (release) = ga = final < sp, other qualifiers
 * after them alphabetically; `-` starts a sub-list. So 1.9 < 1.10, 1.0-alpha-1 < 1.0 < 1.0-sp1.
 */

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc', a: 'alpha', b: 'beta', m: 'milestone' };

type Item = number | string | Item[];

function qualifierRank(q: string): string {
  const index = QUALIFIERS.indexOf(q);
  // Unknown qualifiers sort after all known ones, among themselves alphabetically.
  return index === -1 ? `${QUALIFIERS.length}-${q}` : String(index);
}

/** Splits a version into ComparableVersion's items: numbers, qualifiers, and sub-lists after `-`. */
function parse(version: string): Item[] {
  const root: Item[] = [];
  let list = root;
  let token = '';
  let digits = false;
  const push = (isLast: boolean, sep: string) => {
    if (token === '' && !isLast) {
      if (sep === '.') list.push(0);
    } else if (token !== '') {
      list.push(digits ? Number(token) : normalizeQualifier(token, isLast));
    }
    token = '';
  };
  const descend = () => {
    const sub: Item[] = [];
    list.push(sub);
    list = sub;
  };
  const lower = version.toLowerCase();
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    if (c === '.') {
      push(false, '.');
    } else if (c === '-') {
      push(false, '-');
      descend();
    } else {
      const isDigit = /[0-9]/.test(c);
      // "alpha1", "1alpha": where digits and letters meet, what follows is a sub-list
      if (isDigit !== digits && token !== '') {
        push(false, '');
        descend();
      }
      digits = isDigit;
      token += c;
    }
  }
  push(true, '');
  return trim(root);
}

/** `ga`, `final`, `release` and `cr` are aliases anywhere; `a`, `b` and `m` only when more follows (`a1`). */
function normalizeQualifier(q: string, atEnd: boolean): string {
  const alias = ALIASES[q];
  return alias === undefined || (q.length === 1 && atEnd) ? q : alias;
}

/** Trailing "null" items (0, "", empty lists) do not count: 1.0 = 1 = 1.0.0 = 1-ga. */
function trim(list: Item[]): Item[] {
  const out = list.map((item) => (Array.isArray(item) ? trim(item) : item));
  while (out.length > 0) {
    const last = out[out.length - 1]!;
    if (last === 0 || last === '' || (Array.isArray(last) && last.length === 0)) out.pop();
    else break;
  }
  return out;
}

function compareItem(a: Item | undefined, b: Item | undefined): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return -compareItem(b, undefined);
  if (typeof a === 'number') {
    if (b === undefined) return a === 0 ? 0 : 1;
    if (typeof b === 'number') return Math.sign(a - b);
    return 1; // numbers sort after qualifiers and lists
  }
  if (typeof a === 'string') {
    if (b === undefined) return qualifierRank(a) < qualifierRank('') ? -1 : qualifierRank(a) > qualifierRank('') ? 1 : 0;
    if (typeof b === 'number') return -1;
    if (Array.isArray(b)) return -1;
    const [ra, rb] = [qualifierRank(a), qualifierRank(b)];
    return ra < rb ? -1 : ra > rb ? 1 : 0;
  }
  if (b === undefined) return a.length === 0 ? 0 : compareItem(a[0], undefined);
  if (typeof b === 'number') return -1;
  if (typeof b === 'string') return 1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = compareItem(a[i], b[i]);
    if (d !== 0) return d;
  }
  return 0;
}

export function compareMavenVersions(a: string, b: string): number {
  const [pa, pb] = [parse(a), parse(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = compareItem(pa[i], pb[i]);
    if (d !== 0) return d;
  }
  return 0;
}
