import t from 'tap';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const problemsOf = (yaml: string): string[] => {
  try {
    parseConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
};

t.test('defaults fill in a minimal config', async (t) => {
  const config = parseConfig('repositories:\n  - { key: files, format: generic, type: local }\n');
  t.equal(config.server.port, 8080);
  t.equal(config.server.maxUploadBytes, 10 * 1024 ** 3);
  t.equal(config.storage.dataDir, './data');
  t.match(config.repositories[0], { key: 'files', allowRedeploy: true, allowDelete: true });
});

t.test('sizes may be written with units', async (t) => {
  t.equal(parseConfig('server: { maxUploadBytes: 512MiB }').server.maxUploadBytes, 512 * 1024 ** 2);
  t.same(problemsOf('server: { maxUploadBytes: lots }'), ['server.maxUploadBytes: not a size: "lots" (use bytes or e.g. "512MiB", "10GiB")']);
});

t.test('every problem is reported with its key path', async (t) => {
  const problems = problemsOf(`
server: { port: 99999, colour: blue }
repositories:
  - { key: ok, format: generic, type: local }
  - { key: r, format: generic, type: remote, url: "ftp://example.org/" }
  - { key: Bad Key, format: generic, type: local }
  - { key: x, format: generic, type: sideways }
  - { key: y, format: rpm, type: local }
`);
  t.match(problems.join('\n'), /server\.port: /);
  t.match(problems.join('\n'), /server\.colour: unknown key/);
  t.match(problems.join('\n'), /repositories\[1\]\.url: /);
  t.match(problems.join('\n'), /repositories\[2\]\.key: /);
  t.match(problems.join('\n'), /repositories\[3\]\.type: must be one of local, remote, virtual/);
  t.match(problems.join('\n'), /repositories\[4\]\.format: /);
});

t.test('reserved and duplicate keys', async (t) => {
  t.match(problemsOf('repositories: [{ key: api, format: generic, type: local }]')[0], /repositories\[0\]\.key: reserved/);
  t.match(problemsOf('repositories: [{ key: v2, format: generic, type: local }]')[0], /reserved/);
  t.same(
    problemsOf(`repositories:
  - { key: a, format: generic, type: local }
  - { key: a, format: generic, type: local }`),
    ['repositories[1].key: duplicate key "a"'],
  );
});

t.test('virtual repositories: known members, a local deploy repo, no cycles', async (t) => {
  t.same(problemsOf('repositories: [{ key: v, format: generic, type: virtual, members: [ghost] }]'), [
    'repositories[0].members[0]: no repository "ghost"',
  ]);
  t.same(
    problemsOf(`repositories:
  - { key: r, format: generic, type: remote, url: "http://127.0.0.1:1/" }
  - { key: v, format: generic, type: virtual, members: [r], defaultDeployRepo: r }`),
    ['repositories[1].defaultDeployRepo: "r" is not a local repository'],
  );
  t.same(
    problemsOf(`repositories:
  - { key: l, format: generic, type: local }
  - { key: v, format: generic, type: virtual, members: [l], defaultDeployRepo: other }`),
    ['repositories[1].defaultDeployRepo: "other" is not a member'],
  );
  const cycle = problemsOf(`repositories:
  - { key: a, format: generic, type: virtual, members: [b] }
  - { key: b, format: generic, type: virtual, members: [a] }`);
  t.match(cycle[0], /repositories\[0\]\.members: cycle a -> b -> a/);
});

t.test('secrets are references, never inline values', async (t) => {
  const ok = parseConfig(`repositories:
  - { key: r, format: generic, type: remote, url: "http://127.0.0.1:1/", auth: { username: u, password: { env: PW } } }`);
  t.same(ok.repositories[0]!.type === 'remote' && ok.repositories[0]!.auth, { username: 'u', password: { env: 'PW' } });
  t.ok(problemsOf(`repositories:
  - { key: r, format: generic, type: remote, url: "http://127.0.0.1:1/", auth: { username: u, password: hunter2 } }`).length > 0);
});

t.test('the index: SQLite by default; PostgreSQL with a connection string that holds no password inline', async (t) => {
  t.same(parseConfig('{}').storage.index, { type: 'sqlite' });
  t.match(parseConfig('storage: { index: { type: postgres, url: "postgres://shelf@db:5432/shelf" } }').storage.index, {
    type: 'postgres',
    url: 'postgres://shelf@db:5432/shelf',
    poolSize: 10,
    connectTimeoutSeconds: 5,
  });
  t.match(parseConfig('storage: { index: { type: postgres, url: { file: /etc/shelf/database-url } } }').storage.index, {
    url: { file: '/etc/shelf/database-url' },
  });
  t.same(problemsOf('storage: { index: { type: postgres, url: "postgres://shelf:hunter2@db/shelf" } }'), [
    'storage.index.url: the connection string holds a password: give it as { env: NAME } or { file: PATH }',
  ]);
  t.ok(problemsOf('storage: { index: { type: postgres, url: "mysql://db/shelf" } }').length > 0);
  t.ok(problemsOf('storage: { index: { type: oracle } }').length > 0);
  t.ok(problemsOf('server: { nodeId: "node one" }').length > 0, 'a node id is one word');
});

t.test('blobs: on disk by default; in an S3 bucket with the secret key from a secret, never inline', async (t) => {
  t.same(parseConfig('{}').storage.blobs, { type: 'filesystem' });
  t.same(
    parseConfig('storage: { blobs: { type: s3, bucket: shelf-blobs, endpoint: "http://rgw:7480", forcePathStyle: true, accessKeyId: k, secretAccessKey: { env: S3_SECRET } } }').storage.blobs,
    {
      type: 's3',
      bucket: 'shelf-blobs',
      prefix: '',
      region: 'us-east-1',
      endpoint: 'http://rgw:7480',
      forcePathStyle: true,
      accessKeyId: 'k',
      secretAccessKey: { env: 'S3_SECRET' },
      requestTimeoutSeconds: 60,
      partSize: 16 * 1024 * 1024,
    },
  );
  t.match(parseConfig('storage: { blobs: { type: s3, bucket: b-1, prefix: shelf/prod/, partSize: 64MiB } }').storage.blobs, { prefix: 'shelf/prod/', partSize: 64 * 1024 ** 2 });
  t.ok(problemsOf('storage: { blobs: { type: s3, bucket: b-1, accessKeyId: k, secretAccessKey: hunter2 } }').length > 0, 'no inline secret');
  t.same(problemsOf('storage: { blobs: { type: s3, bucket: b-1, accessKeyId: k } }'), ['storage.blobs: give both accessKeyId and secretAccessKey, or neither']);
  t.ok(problemsOf('storage: { blobs: { type: s3, bucket: B } }').length > 0, 'a bucket name S3 would refuse');
  t.ok(problemsOf('storage: { blobs: { type: s3, bucket: b-1, prefix: /abs } }').length > 0);
  t.ok(problemsOf('storage: { blobs: { type: s3, bucket: b-1, partSize: 1MiB } }').length > 0, 'below S3 minimum part size');
  t.ok(problemsOf('storage: { blobs: { type: s3 } }').length > 0, 'a bucket is required');
});

t.test('YAML syntax errors are reported', async (t) => {
  t.match(problemsOf('server: [unclosed')[0], /^YAML: /);
});

t.test('the shipped default config is valid', async (t) => {
  const { loadConfigFile } = await import('../../src/config/load.js');
  // Its npm upstream comes from the environment, as `npm start` provides it.
  const saved = process.env.SHELF_NPM_UPSTREAM;
  process.env.SHELF_NPM_UPSTREAM = 'http://127.0.0.1:9/';
  t.teardown(() => (saved === undefined ? delete process.env.SHELF_NPM_UPSTREAM : (process.env.SHELF_NPM_UPSTREAM = saved)));
  const config = loadConfigFile('config/shelf.yaml');
  for (const format of ['generic', 'docker', 'npm', 'pypi', 'maven']) {
    const types = new Set(config.repositories.filter((r) => r.format === format).map((r) => r.type));
    t.same([...types].sort(), ['local', 'remote', 'virtual'], `a ${format} repository of each type`);
  }
});

t.test('Docker-only options are refused on other formats; docker.defaultRepository must be a Docker repository', async (t) => {
  t.same(
    problemsOf(`
docker: { defaultRepository: files }
repositories:
  - { key: files, format: generic, type: local, immutableTags: true }
  - { key: images, format: docker, type: local, immutableTags: true, maxUniqueTags: 5 }
`),
    ['repositories[0].immutableTags: only for docker repositories', 'docker.defaultRepository: "files" is generic, not docker'],
  );
});

t.test('permission targets: known repositories (or ANY, ANY LOCAL, ANY REMOTE), each name once, valid actions', async (t) => {
  const withTargets = (...targets: string[]) =>
    problemsOf(['repositories:', '  - { key: files, format: generic, type: local }', 'security:', '  permissions:', ...targets.map((target) => `    - ${target}`)].join('\n'));
  const repeated = ['{ name: a, repositories: [files, ANY LOCAL, nope], anonymous: [read] }', '{ name: a, repositories: [ANY] }'];
  t.same(withTargets(...repeated), ['security.permissions[0].repositories[2]: no repository "nope"', 'security.permissions[1].name: "a" is used twice']);
  const problems = withTargets(...repeated, '{ name: b, repositories: [files], users: { alice: [fly] } }');
  t.match(problems.join('\n'), /security\.permissions\[2\]\.users\.alice\[0\]: /);
  t.equal(problems.length, 1, 'schema problems are reported before the cross-checks');
});
