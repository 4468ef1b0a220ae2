import t from 'tap';
import { expandEnv } from '../../src/config/env-expansion.js';
import { parseConfig, unconfiguredRepositories } from '../../src/config/load.js';

const env = { HOST: 'registry.internal', EMPTY: '', PORT: '4873' };

t.test('variables, defaults, nested defaults and escapes', async (t) => {
  t.equal(expandEnv('http://${HOST}:${PORT}/', env), 'http://registry.internal:4873/');
  t.equal(expandEnv('${MISSING:-http://fallback/}', env), 'http://fallback/');
  t.equal(expandEnv('${EMPTY:-used when empty}', env), 'used when empty');
  t.equal(expandEnv('${MISSING:-${HOST}}', env), 'registry.internal');
  t.equal(expandEnv('${MISSING:-${ALSO_MISSING:-deep}}', env), 'deep');
  t.equal(expandEnv('cost: $$5 and $x', env), 'cost: $5 and $x');
  t.equal(expandEnv('no variables', env), 'no variables');
});

t.test('unset variables, bad names and unclosed braces are errors', async (t) => {
  t.throws(() => expandEnv('${MISSING}', env), /environment variable MISSING is not set/);
  t.throws(() => expandEnv('${EMPTY}', env), /EMPTY is not set/);
  t.throws(() => expandEnv('${MISSING:-${NOPE}}', env), /none of the environment variables MISSING, NOPE is set/);
  t.throws(() => expandEnv('${not a name}', env), /does not name an environment variable/);
  t.throws(() => expandEnv('${HOST', env), /unclosed/);
});

t.test('config values are expanded before validation, problems named by key path', async (t) => {
  process.env.SHELF_TEST_UPSTREAM = 'http://127.0.0.1:4873/';
  t.teardown(() => delete process.env.SHELF_TEST_UPSTREAM);
  const config = parseConfig('repositories:\n  - { key: r, format: npm, type: remote, url: "${SHELF_TEST_UPSTREAM}" }\n');
  t.equal(config.repositories[0]!.type === 'remote' && config.repositories[0]!.url, 'http://127.0.0.1:4873/');
  t.throws(
    () => parseConfig('server: { host: "${SHELF_TEST_NOT_SET}" }\n'),
    /server\.host: environment variable SHELF_TEST_NOT_SET is not set/,
  );
});

t.test("a remote's url with an unset variable leaves that repository not configured, and the rest working", async (t) => {
  const config = parseConfig(
    'repositories:\n' +
      '  - { key: r, format: npm, type: remote, url: "${SHELF_TEST_NOT_SET:-${SHELF_TEST_ALSO_UNSET}}" }\n' +
      '  - { key: l, format: npm, type: local }\n' +
      '  - { key: v, format: npm, type: virtual, members: [l, r] }\n',
  );
  t.same(unconfiguredRepositories(config), [{ key: 'r', variables: ['SHELF_TEST_NOT_SET', 'SHELF_TEST_ALSO_UNSET'] }]);
  t.same(config.repositories.map((r) => r.key), ['r', 'l', 'v']);
  // Only a remote's own url is forgiven: anywhere else an unset variable is still a config error.
  t.throws(
    () => parseConfig('repositories:\n  - { key: r, format: npm, type: remote, url: "http://x/", description: "${SHELF_TEST_NOT_SET}" }\n'),
    /repositories\[0\]\.description: environment variable SHELF_TEST_NOT_SET is not set/,
  );
  t.throws(
    () => parseConfig('repositories:\n  - { key: r, format: npm, type: local, url: "${SHELF_TEST_NOT_SET}" }\n'),
    /repositories\[0\]\.url: environment variable SHELF_TEST_NOT_SET is not set/,
  );
});
