import t from 'tap';
import { parseRange } from '../../src/http/range.js';

t.test('single ranges', async (t) => {
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  t.same(parseRange('bytes=50-500', 100), { start: 50, end: 99 }, 'end is clamped to the body');
  t.same(parseRange('bytes=-500', 100), { start: 0, end: 99 }, 'a suffix longer than the body is the whole body');
});

t.test('ranges that cannot be served', async (t) => {
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  t.equal(parseRange('bytes=9-3', 100), 'unsatisfiable');
  t.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
});

t.test('headers that mean the whole body', async (t) => {
  t.equal(parseRange(undefined, 100), undefined);
  t.equal(parseRange('items=0-9', 100), undefined);
  t.equal(parseRange('bytes=0-9,20-29', 100), undefined, 'multiple ranges are answered with the whole body');
  t.equal(parseRange('bytes=-', 100), undefined);
});
