/**
 * Set Me Up: the client configuration for one repository, with this Shelf's address filled in. Pure, so the
 * exact text the page offers is unit-tested and the same text the browser tests hand to the real clients.
 */

export interface SetupRepository {
  key: string;
  type: 'LOCAL' | 'REMOTE' | 'VIRTUAL';
  packageType: 'docker' | 'npm' | 'pypi' | 'maven' | 'generic';
  /** A virtual repository accepts deploys only with a default deployment repository. */
  defaultDeployRepo?: string;
}

export interface Snippet {
  title: string;
  /** Where the text goes, when it is a file. */
  file?: string;
  text: string;
}

export interface SetupContext {
  /** Shelf's address as the browser reaches it, e.g. http://shelf:8080 (no trailing slash). */
  baseUrl: string;
  /** The signed-in user, or null. */
  username: string | null;
  /** A token just created for this page, shown once; otherwise a placeholder. */
  token?: string;
}

export const TOKEN_PLACEHOLDER = 'YOUR_TOKEN';

const deploys = (repo: SetupRepository) => repo.type === 'LOCAL' || (repo.type === 'VIRTUAL' && repo.defaultDeployRepo !== undefined);

export function setupSnippets(repo: SetupRepository, ctx: SetupContext): Snippet[] {
  const base = ctx.baseUrl.replace(/\/+$/, '');
  const url = new URL(base);
  const repoUrl = `${base}/${repo.key}/`;
  const token = ctx.token ?? TOKEN_PLACEHOLDER;
  const user = ctx.username ?? 'YOUR_USER';
  const plainHttp = url.protocol === 'http:';
  const localHost = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  switch (repo.packageType) {
    case 'npm':
      return [
        {
          title: 'npm, pnpm and yarn',
          file: '.npmrc',
          text: `registry=${repoUrl}\n//${url.host}${url.pathname.replace(/\/$/, '')}/${repo.key}/:_authToken=${token}\n`,
        },
        ...(deploys(repo) ? [{ title: 'Publish', text: 'npm publish\n' }] : []),
      ];
    case 'pypi': {
      const credentials = ctx.token ? `${encodeURIComponent('__token__')}:${encodeURIComponent(token)}@` : '';
      const index = `${url.protocol}//${credentials}${url.host}${url.pathname.replace(/\/$/, '')}/${repo.key}/simple/`;
      const trusted = plainHttp && !localHost ? `trusted-host = ${url.hostname}\n` : '';
      return [
        { title: 'pip (and poetry, uv, pdm)', file: 'pip.conf', text: `[global]\nindex-url = ${index}\n${trusted}` },
        ...(deploys(repo)
          ? [
              {
                title: 'twine',
                file: '.pypirc',
                text: `[distutils]\nindex-servers = shelf\n\n[shelf]\nrepository = ${repoUrl}\nusername = __token__\npassword = ${token}\n`,
              },
              { title: 'Upload', text: 'twine upload -r shelf dist/*\n' },
            ]
          : []),
      ];
    }
    case 'maven': {
      const server = `    <server>\n      <id>shelf</id>\n      <username>${user}</username>\n      <password>${token}</password>\n    </server>\n`;
      const snippets: Snippet[] = [
        {
          title: 'Maven',
          file: 'settings.xml',
          text:
            `<settings>\n  <mirrors>\n    <mirror>\n      <id>shelf</id>\n      <mirrorOf>*</mirrorOf>\n      <url>${repoUrl}</url>\n    </mirror>\n  </mirrors>\n` +
            `  <servers>\n${server}  </servers>\n</settings>\n`,
        },
      ];
      if (deploys(repo)) {
        snippets.push({
          title: 'Deploy (pom.xml)',
          text:
            `<distributionManagement>\n  <repository>\n    <id>shelf</id>\n    <url>${repoUrl}</url>\n  </repository>\n` +
            `  <snapshotRepository>\n    <id>shelf</id>\n    <url>${repoUrl}</url>\n  </snapshotRepository>\n</distributionManagement>\n`,
        });
      }
      snippets.push({
        title: 'Gradle (Kotlin DSL)',
        file: 'build.gradle.kts',
        text:
          `repositories {\n    maven {\n        url = uri("${repoUrl}")\n` +
          (plainHttp ? '        isAllowInsecureProtocol = true\n' : '') +
          `        credentials {\n            username = "${user}"\n            password = providers.gradleProperty("shelfToken").get()\n        }\n    }\n}\n`,
      });
      return snippets;
    }
    case 'docker': {
      const host = url.host;
      const tls = plainHttp ? ' --tls-verify=false' : '';
      const snippets: Snippet[] = [
        {
          title: 'Log in',
          text: `docker login ${host}\npodman login${tls} ${host}\nskopeo login${tls} ${host}\n`,
        },
        { title: 'Pull', text: `docker pull ${host}/${repo.key}/IMAGE:TAG\n` },
      ];
      if (deploys(repo))
        snippets.push({ title: 'Push', text: `docker tag IMAGE:TAG ${host}/${repo.key}/IMAGE:TAG\ndocker push ${host}/${repo.key}/IMAGE:TAG\n` });
      if (repo.type !== 'LOCAL') {
        snippets.push({
          title: 'podman and skopeo: use this repository as a Docker Hub mirror',
          file: '/etc/containers/registries.conf.d/shelf.conf',
          text: `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${host}/${repo.key}"\n${plainHttp ? 'insecure = true\n' : ''}`,
        });
        snippets.push({
          title: 'Docker daemon: registry mirror (when this repository is docker.defaultRepository)',
          file: '/etc/docker/daemon.json',
          text: `{\n  "registry-mirrors": ["${base}"]${plainHttp ? `,\n  "insecure-registries": ["${host}"]` : ''}\n}\n`,
        });
      }
      return snippets;
    }
    case 'generic':
      return [
        { title: 'Download', text: `curl -fO ${repoUrl}PATH/TO/FILE\n` },
        ...(deploys(repo) ? [{ title: 'Upload', text: `curl -f -u ${user}:${token} -T FILE ${repoUrl}PATH/TO/FILE\n` }] : []),
      ];
  }
}
