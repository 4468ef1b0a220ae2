import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Identity } from '../../../src/security/identity.js';
import { mavenProject, startMavenUpstream } from '../../helpers/maven-harness.js';
import { startShelf } from '../../helpers/shelf.js';

const upstream = await startMavenUpstream(t);
const shelf = await startShelf({
  repositories: [
    { key: 'maven-local', format: 'maven', type: 'local' },
    { key: 'central', format: 'maven', type: 'remote', url: upstream.url },
    { key: 'maven', format: 'maven', type: 'virtual', members: ['maven-local', 'central'], defaultDeployRepo: 'maven-local' },
  ],
  security: {
    permissions: [
      { name: 'read-all', repositories: ['ANY'], groups: { developers: ['read'] } },
      { name: 'deploy-sample', repositories: ['maven-local'], includes: ['shelf/sample/**'], users: { deployer: ['write'] } },
    ],
  },
});
t.teardown(() => shelf.stop());
const identity = new Identity(shelf.app.index);
for (const name of ['deployer', 'reader']) await identity.addUser({ name, password: `${name}-password` });
await shelf.app.index.putGroup({ name: 'developers', description: '', members: ['deployer', 'reader'] });
const mirror = `${shelf.url}/maven/`;

/** `mvn deploy:deploy-file` of a small jar as `groupId:hello:1.0.0`, with the credentials in settings.xml. */
async function deployFile(t: { teardown(fn: () => unknown): void }, credentials: string | undefined, groupId: string) {
  const project = mavenProject(t, mirror, undefined, credentials);
  const jar = join(project.root, 'hello.jar');
  writeFileSync(jar, 'not really a jar, but bytes to deploy\n');
  return project.mvn(
    'deploy:deploy-file',
    `-Dfile=${jar}`,
    `-DgroupId=${groupId}`,
    '-DartifactId=hello',
    '-Dversion=1.0.0',
    '-Dpackaging=jar',
    '-DrepositoryId=shelf',
    `-Durl=${mirror}`,
  );
}

t.test('without credentials mvn gets a 401 and resolves nothing', async (t) => {
  const result = await deployFile(t, undefined, 'shelf.sample');
  t.not(result.code, 0);
  t.match(result.stdout, /401|Unauthorized/);
});

t.test('read-only credentials resolve plugins through the mirror, and the deploy gets a 403', async (t) => {
  const result = await deployFile(t, 'reader:reader-password', 'shelf.sample');
  t.not(result.code, 0);
  t.match(result.stdout, /403|Forbidden/);
  t.match(result.stdout, /BUILD FAILURE/);
});

t.test('the deployer deploys inside its include pattern only; a reader resolves what was deployed', async (t) => {
  const outside = await deployFile(t, 'deployer:deployer-password', 'other.group');
  t.not(outside.code, 0, 'other/group/** is outside shelf/sample/**');
  t.match(outside.stdout, /403|Forbidden/);
  const deployed = await deployFile(t, 'deployer:deployer-password', 'shelf.sample');
  t.equal(deployed.code, 0, deployed.stdout.slice(-3000));
  const consumer = mavenProject(t, mirror, undefined, 'reader:reader-password');
  const resolved = await consumer.mvn('dependency:get', '-Dartifact=shelf.sample:hello:1.0.0', '-Dtransitive=false');
  t.equal(resolved.code, 0, resolved.stdout.slice(-3000));
  t.match(resolved.stdout, `${mirror}shelf/sample/hello/1.0.0/hello-1.0.0.jar`);
  t.notMatch(deployed.stdout + resolved.stdout, /deployer-password|reader-password/, 'mvn prints no password');
});
