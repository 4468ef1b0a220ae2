/** PEP 440 version ordering (epoch, release, pre, post, dev, local), enough to sort and pick the newest. */

const PATTERN =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

const PRE_PHASE: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };

type Key = number[];

/** A sort key: each part a number, with ±Infinity where PEP 440 puts a missing segment first or last. */
function sortKey(version: string): Key | undefined {
  const m = PATTERN.exec(version.trim());
  if (!m) return undefined;
  const release = m[2]!.split('.').map(Number);
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  const hasPre = m[3] !== undefined;
  const hasPost = m[5] !== undefined || m[6] !== undefined;
  const hasDev = m[8] !== undefined;
  // 1.0.dev1 < 1.0a1 < 1.0 < 1.0.post1: a dev release without a pre-release sorts before every pre-release.
  const pre = hasPre ? [PRE_PHASE[m[3]!.toLowerCase()]!, Number(m[4] ?? 0)] : hasDev && !hasPost ? [-Infinity, 0] : [Infinity, 0];
  const post = hasPost ? Number(m[5] ?? m[7] ?? 0) : -Infinity;
  const dev = hasDev ? Number(m[9] ?? 0) : Infinity;
  return [Number(m[1] ?? 0), release.length, ...release, ...pre, post, dev, m[10] ? 1 : 0];
}

function compareReleases(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Negative, zero or positive as `a` sorts before, with or after `b`; unparseable versions sort first. */
export function compareVersions(a: string, b: string): number {
  const [ka, kb] = [sortKey(a), sortKey(b)];
  if (!ka || !kb) return ka ? 1 : kb ? -1 : a < b ? -1 : a > b ? 1 : 0;
  const [ea, la] = [ka[0]!, ka[1]!];
  const [eb, lb] = [kb[0]!, kb[1]!];
  if (ea !== eb) return ea - eb;
  const release = compareReleases(ka.slice(2, 2 + la), kb.slice(2, 2 + lb));
  if (release !== 0) return release;
  const [ra, rb] = [ka.slice(2 + la), kb.slice(2 + lb)];
  for (let i = 0; i < ra.length; i++) {
    if (ra[i] !== rb[i]) return ra[i]! < rb[i]! ? -1 : 1;
  }
  return 0;
}
