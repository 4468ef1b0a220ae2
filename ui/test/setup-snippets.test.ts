import t from 'tap';
import { setupSnippets, TOKEN_PLACEHOLDER, type SetupRepository } from '../src/setup-snippets.js';

const repo = (packageType: SetupRepository['packageType'], type: SetupRepository['type'] = 'LOCAL', extra: Partial<SetupRepository> = {}): SetupRepository => ({
  key: `${packageType}-${type.toLowerCase()}`,
  type,
  packageType,
  ...extra,
});
const byTitle = (snippets: { title: string; text: string }[], title: string) => snippets.find((s) => s.title === title)?.text;

t.test('npm: the registry and the token for exactly that registry path', async (t) => {
  const [npmrc] = setupSnippets(repo('npm', 'VIRTUAL'), { baseUrl: 'https://shelf.example:8443/', username: 'alice', token: 'shelf_abc' });
  t.equal(npmrc!.file, '.npmrc');
  t.equal(npmrc!.text, 'registry=https://shelf.example:8443/npm-virtual/\n//shelf.example:8443/npm-virtual/:_authToken=shelf_abc\n');
  const behindPath = setupSnippets(repo('npm'), { baseUrl: 'http://proxy/shelf', username: null });
  t.equal(behindPath[0]!.text, `registry=http://proxy/shelf/npm-local/\n//proxy/shelf/npm-local/:_authToken=${TOKEN_PLACEHOLDER}\n`);
  t.ok(byTitle(behindPath, 'Publish'), 'a local repository takes publishes');
  t.notOk(byTitle(setupSnippets(repo('npm', 'REMOTE'), { baseUrl: 'http://s', username: null }), 'Publish'), 'a remote one does not');
  t.notOk(byTitle(setupSnippets(repo('npm', 'VIRTUAL'), { baseUrl: 'http://s', username: null }), 'Publish'), 'nor a virtual one without a deploy repository');
  t.ok(byTitle(setupSnippets(repo('npm', 'VIRTUAL', { defaultDeployRepo: 'npm-local' }), { baseUrl: 'http://s', username: null }), 'Publish'));
});

t.test('pypi: the simple index (with the token when there is one, trusted-host over plain HTTP) and .pypirc', async (t) => {
  const plain = setupSnippets(repo('pypi'), { baseUrl: 'http://shelf:8080', username: 'alice' });
  t.equal(byTitle(plain, 'pip (and poetry, uv, pdm)'), '[global]\nindex-url = http://shelf:8080/pypi-local/simple/\ntrusted-host = shelf\n');
  t.equal(byTitle(plain, 'twine'), `[distutils]\nindex-servers = shelf\n\n[shelf]\nrepository = http://shelf:8080/pypi-local/\nusername = __token__\npassword = ${TOKEN_PLACEHOLDER}\n`);
  const local = setupSnippets(repo('pypi', 'REMOTE'), { baseUrl: 'http://127.0.0.1:8080', username: 'alice', token: 'shelf_t/k' });
  t.equal(byTitle(local, 'pip (and poetry, uv, pdm)'), '[global]\nindex-url = http://__token__:shelf_t%2Fk@127.0.0.1:8080/pypi-remote/simple/\n', 'no trusted-host for loopback; the token URL-encoded');
  t.notOk(byTitle(local, 'twine'));
});

t.test('maven: a mirror of everything, the server credentials, deploys and Gradle', async (t) => {
  const snippets = setupSnippets(repo('maven'), { baseUrl: 'http://shelf:8080', username: 'alice', token: 'shelf_x' });
  const settings = byTitle(snippets, 'Maven')!;
  t.match(settings, '<mirrorOf>*</mirrorOf>\n      <url>http://shelf:8080/maven-local/</url>');
  t.match(settings, '<username>alice</username>\n      <password>shelf_x</password>');
  t.match(byTitle(snippets, 'Deploy (pom.xml)')!, '<repository>\n    <id>shelf</id>\n    <url>http://shelf:8080/maven-local/</url>');
  t.match(byTitle(snippets, 'Gradle (Kotlin DSL)')!, 'isAllowInsecureProtocol = true');
  t.notMatch(byTitle(setupSnippets(repo('maven', 'REMOTE'), { baseUrl: 'https://s', username: null }), 'Gradle (Kotlin DSL)')!, 'isAllowInsecureProtocol');
});

t.test('docker: logins, image names under the repository key, mirrors for caching repositories', async (t) => {
  const local = setupSnippets(repo('docker'), { baseUrl: 'http://shelf:8080', username: 'alice' });
  t.equal(byTitle(local, 'Log in'), 'docker login shelf:8080\npodman login --tls-verify=false shelf:8080\nskopeo login --tls-verify=false shelf:8080\n');
  t.match(byTitle(local, 'Push')!, 'docker push shelf:8080/docker-local/IMAGE:TAG');
  t.equal(local.length, 3, 'no mirror for a local repository');
  const remote = setupSnippets(repo('docker', 'REMOTE'), { baseUrl: 'https://shelf', username: null });
  t.equal(byTitle(remote, 'Log in'), 'docker login shelf\npodman login shelf\nskopeo login shelf\n');
  t.match(remote.find((s) => s.file === '/etc/containers/registries.conf.d/shelf.conf')!.text, 'location = "shelf/docker-remote"\n');
  t.equal(remote.find((s) => s.file === '/etc/docker/daemon.json')!.text, '{\n  "registry-mirrors": ["https://shelf"]\n}\n');
});

t.test('generic: curl down and up', async (t) => {
  const snippets = setupSnippets(repo('generic'), { baseUrl: 'http://shelf:8080', username: 'alice', token: 'shelf_y' });
  t.equal(byTitle(snippets, 'Download'), 'curl -fO http://shelf:8080/generic-local/PATH/TO/FILE\n');
  t.equal(byTitle(snippets, 'Upload'), 'curl -f -u alice:shelf_y -T FILE http://shelf:8080/generic-local/PATH/TO/FILE\n');
});
