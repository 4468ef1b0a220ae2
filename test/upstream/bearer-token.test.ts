import t from 'tap';
import { parseBearerChallenge } from '../../src/upstream/bearer-token.js';

t.test('Docker Hub\'s challenge', async (t) => {
  t.same(
    parseBearerChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
    { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
  );
});

t.test('unquoted values, odd spacing and escapes', async (t) => {
  t.same(parseBearerChallenge('bearer  realm=http://t/token , service="a\\"b"'), { realm: 'http://t/token', service: 'a"b' });
});

t.test('not a usable Bearer challenge', async (t) => {
  t.equal(parseBearerChallenge('Basic realm="x"'), undefined);
  t.equal(parseBearerChallenge('Bearer service="x"'), undefined, 'no realm');
  t.equal(parseBearerChallenge(undefined), undefined);
});
