import t from 'tap';
import { usageOf } from '../src/usage-snippets.js';

const URL = 'http://shelf:8080/repo/';

t.test('docker: a tag and a manifest by digest', async (t) => {
  t.same(usageOf('docker', 'docker-local', URL, 'team/app/_tags/1.0'), { title: 'Pull', text: 'docker pull shelf:8080/docker-local/team/app:1.0\n' });
  t.same(usageOf('docker', 'docker-local', URL, 'team/app/_manifests/sha256:abc'), {
    title: 'Pull',
    text: 'docker pull shelf:8080/docker-local/team/app@sha256:abc\n',
  });
  t.equal(usageOf('docker', 'docker-local', URL, 'team/app/_blobs/sha256:abc'), undefined, 'a layer is not pulled by itself');
});

t.test('npm: plain and scoped tarballs', async (t) => {
  t.same(usageOf('npm', 'npm', URL, 'ui-demo/-/ui-demo-1.0.0.tgz'), { title: 'Install', text: 'npm install ui-demo@1.0.0\n' });
  t.same(usageOf('npm', 'npm', URL, '@team/lib/-/lib-2.1.0-beta.1.tgz'), { title: 'Install', text: 'npm install @team/lib@2.1.0-beta.1\n' });
  t.equal(usageOf('npm', 'npm', URL, '.npm/ui-demo/package.json'), undefined);
});

t.test('pypi: wheels and sdists', async (t) => {
  t.same(usageOf('pypi', 'pypi', URL, 'packages/shelf-upload/shelf_upload-1.0.0-py3-none-any.whl'), {
    title: 'Install',
    text: 'pip install shelf-upload==1.0.0\n',
  });
  t.same(usageOf('pypi', 'pypi', URL, 'packages/requests/requests-2.31.0.tar.gz'), { title: 'Install', text: 'pip install requests==2.31.0\n' });
  t.equal(usageOf('pypi', 'pypi', URL, 'packages/requests/requests-2.31.0-py3-none-any.whl.metadata'), undefined);
});

t.test('maven: the dependency, with type and classifier when not a plain jar, and SNAPSHOT builds', async (t) => {
  t.equal(
    usageOf('maven', 'maven', URL, 'shelf/sample/hello/1.0.0/hello-1.0.0.jar')?.text,
    '<dependency>\n  <groupId>shelf.sample</groupId>\n  <artifactId>hello</artifactId>\n  <version>1.0.0</version>\n</dependency>\n',
  );
  t.match(usageOf('maven', 'maven', URL, 'org/acme/app/2.0/app-2.0-sources.jar')?.text, '<classifier>sources</classifier>');
  t.match(usageOf('maven', 'maven', URL, 'org/acme/app/2.0/app-2.0.pom')?.text, '<type>pom</type>');
  const snapshot = usageOf('maven', 'maven', URL, 'org/acme/app/1.1-SNAPSHOT/app-1.1-20261129.010203-3.jar')?.text;
  t.match(snapshot, '<version>1.1-SNAPSHOT</version>');
  t.notMatch(snapshot, '<classifier>');
  t.equal(usageOf('maven', 'maven', URL, 'org/acme/app/2.0/app-2.0.jar.sha1'), undefined);
  t.equal(usageOf('maven', 'maven', URL, 'org/acme/app/maven-metadata.xml'), undefined);
});

t.test('generic: curl, with the path encoded', async (t) => {
  t.same(usageOf('generic', 'files', URL, 'tools/my tool.tar.gz'), { title: 'Download', text: 'curl -fO http://shelf:8080/repo/tools/my%20tool.tar.gz\n' });
});
