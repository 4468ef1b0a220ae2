import t from 'tap';
import { decodeSegments, joinPlainSegments, validateRepoPath } from '../../src/repos/repo-path.js';

t.test('ordinary paths pass', async (t) => {
  t.equal(validateRepoPath('a/b/c-1.0.tar.gz'), 'a/b/c-1.0.tar.gz');
  t.equal(joinPlainSegments(decodeSegments('/a/b%20c/d')), 'a/b c/d');
});

t.test('traversal and odd segments are refused', async (t) => {
  for (const bad of ['../x', 'a/../x', 'a/./x', 'a//x', '/abs', 'a\\b', 'a\u0000b', '']) {
    t.throws(() => validateRepoPath(bad), { status: 400 }, JSON.stringify(bad));
  }
  t.throws(() => joinPlainSegments(decodeSegments('/a/%2e%2e/x')), { status: 400 });
  t.throws(() => joinPlainSegments(decodeSegments('/a%2F..%2Fx')), { status: 400 }, 'encoded slash');
  t.throws(() => decodeSegments('/a/%E0%A4%A'), { status: 400 }, 'malformed percent-encoding');
});

t.test('an encoded slash stays inside its segment', async (t) => {
  t.same(decodeSegments('/npm/@scope%2fname'), ['npm', '@scope/name']);
});
