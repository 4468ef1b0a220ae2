import t from 'tap';
import { parsePropertiesParam } from '../../src/api/property-syntax.js';

t.test('Artifactory property syntax', async (t) => {
  t.same(parsePropertiesParam('a=1;b=2,3'), { a: ['1'], b: ['2', '3'] });
  t.same(parsePropertiesParam('a=1|b=2'), { a: ['1'], b: ['2'] });
  t.same(parsePropertiesParam('flag'), { flag: [''] });
  t.same(parsePropertiesParam('path=a\\,b\\;c'), { path: ['a,b;c'] }, 'backslash escapes separators');
  t.throws(() => parsePropertiesParam(''), { status: 400 });
  t.throws(() => parsePropertiesParam('bad key=1'), { status: 400 });
});
