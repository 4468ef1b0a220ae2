import t from 'tap';
import { PathFilter, PathPattern } from '../../src/repos/path-pattern.js';

const matches = (pattern: string, path: string) => new PathPattern(pattern).matches(path);

t.test('* stays within a segment, ** crosses segments, ? is one character', async (t) => {
  t.ok(matches('*.jar', 'a.jar'));
  t.notOk(matches('*.jar', 'dir/a.jar'));
  t.ok(matches('**/*.jar', 'dir/sub/a.jar'));
  t.ok(matches('**/*.jar', 'a.jar'), '** may match no segment');
  t.ok(matches('org/**', 'org/apache/x.pom'));
  t.ok(matches('org/**/x.pom', 'org/x.pom'));
  t.notOk(matches('org/**', 'com/org/x.pom'));
  t.ok(matches('v?.txt', 'v1.txt'));
  t.notOk(matches('v?.txt', 'v10.txt'));
  t.ok(matches('a.b+c(d)', 'a.b+c(d)'), 'regex characters are literal');
  t.notOk(matches('a.b', 'axb'));
});

t.test('a filter needs an include and no exclude', async (t) => {
  const filter = new PathFilter(['**'], ['private/**', '**/*.key']);
  t.ok(filter.allows('public/file.bin'));
  t.notOk(filter.allows('private/file.bin'));
  t.notOk(filter.allows('deep/dir/id.key'));
  t.notOk(new PathFilter(['org/**'], []).allows('com/x'));
});
