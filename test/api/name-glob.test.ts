import t from 'tap';
import { nameMatcher } from '../../src/api/name-glob.js';

const matching = (pattern: string, paths: string[]) => paths.filter(nameMatcher(pattern));
const PATHS = ['team/lib/widget-1.2.3.tgz', 'widget/-/widget-2.0.0.tgz', 'org/acme/app/1.0/app-1.0.jar', 'a+b/(x).txt', 'Ünï/Data.BIN'];

t.test('without a wildcard: any path containing the text, in any case', async (t) => {
  t.same(matching('widget', PATHS), PATHS.slice(0, 2));
  t.same(matching('WIDGET-2', PATHS), ['widget/-/widget-2.0.0.tgz']);
  t.same(matching('a+b/(x)', PATHS), ['a+b/(x).txt'], 'regular-expression characters are literal');
  t.same(matching('ünï/data', PATHS), ['Ünï/Data.BIN'], 'case folding beyond ASCII');
});

t.test('wildcards: from any folder down, unless the pattern names folders', async (t) => {
  t.same(matching('*.jar', PATHS), ['org/acme/app/1.0/app-1.0.jar']);
  t.same(matching('widget-?.?.?.tgz', PATHS), PATHS.slice(0, 2));
  t.same(matching('lib/*', PATHS), [], 'a / anchors the pattern at the repository root');
  t.same(matching('team/lib/*', PATHS), ['team/lib/widget-1.2.3.tgz']);
  t.same(matching('*/lib/*', PATHS), ['team/lib/widget-1.2.3.tgz']);
  t.same(matching('widget-[12].*', PATHS), PATHS.slice(0, 2));
  t.same(matching('widget-[!1]*', PATHS), ['widget/-/widget-2.0.0.tgz']);
  t.same(matching('app-1.0.ja?', PATHS), ['org/acme/app/1.0/app-1.0.jar']);
  t.same(matching('[oops*', ['[oops-1', 'oops']), ['[oops-1'], 'an unclosed [ is literal');
});
