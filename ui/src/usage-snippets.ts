/**
 * How a client asks for one stored file, for its artifact page (Artifactory's "dependency declaration"):
 * read from the path the format stores it at. Pure, so each format's reading is unit-tested.
 */

export interface Usage {
  title: string;
  text: string;
}

type Format = 'docker' | 'npm' | 'pypi' | 'maven' | 'generic';

/** `repoUrl` is the repository's URL (ending in /); `path` the file's path in it (no leading /). */
export function usageOf(format: Format, repoKey: string, repoUrl: string, path: string): Usage | undefined {
  switch (format) {
    case 'docker': {
      const match = /^(.+?)\/(_tags|_manifests)\/([^/]+)$/.exec(path);
      if (!match) return undefined;
      const host = new URL(repoUrl).host;
      const [, image, kind, reference] = match;
      return { title: 'Pull', text: `docker pull ${host}/${repoKey}/${image}${kind === '_tags' ? ':' : '@'}${reference}\n` };
    }
    case 'npm': {
      const match = /^((?:@[^/]+\/)?([^/]+))\/-\/\2-(.+)\.tgz$/.exec(path);
      return match ? { title: 'Install', text: `npm install ${match[1]}@${match[3]}\n` } : undefined;
    }
    case 'pypi': {
      // Wheels and sdists name their version after the first '-' (PEP 427, PEP 625).
      const match = /^packages\/([^/]+)\/[^/-]+-([^-/]+?)(?:-[^/]*\.whl|\.tar\.gz|\.zip)$/.exec(path);
      return match ? { title: 'Install', text: `pip install ${match[1]}==${match[2]}\n` } : undefined;
    }
    case 'maven': {
      const segments = path.split('/');
      if (segments.length < 4) return undefined;
      const [version, artifactId] = [segments.at(-2)!, segments.at(-3)!];
      const file = segments.at(-1)!;
      const stem = `${artifactId}-`;
      if (!file.startsWith(stem) || /\.(sha1|md5|sha256|sha512|asc)$/.test(file) || file === 'maven-metadata.xml') return undefined;
      // What follows the version: an optional -classifier, then the extension (the packaging).
      const rest = /^-?([^.]*)\.(.+)$/.exec(file.slice(stem.length).replace(versionPattern(version), ''));
      if (!rest) return undefined;
      const [, classifier, extension] = rest;
      const groupId = segments.slice(0, -3).join('.');
      const lines = [
        '<dependency>',
        `  <groupId>${groupId}</groupId>`,
        `  <artifactId>${artifactId}</artifactId>`,
        `  <version>${version}</version>`,
        ...(extension !== 'jar' ? [`  <type>${extension}</type>`] : []),
        ...(classifier ? [`  <classifier>${classifier}</classifier>`] : []),
        '</dependency>',
      ];
      return { title: 'Maven dependency', text: `${lines.join('\n')}\n` };
    }
    case 'generic':
      return { title: 'Download', text: `curl -fO ${repoUrl}${path.split('/').map(encodeURIComponent).join('/')}\n` };
  }
}

/** A version at the start of a file name's tail; a SNAPSHOT's builds carry a timestamp in its place. */
function versionPattern(version: string): RegExp {
  const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${version.endsWith('-SNAPSHOT') ? `${escaped.slice(0, -'-SNAPSHOT'.length)}-(?:SNAPSHOT|\\d{8}\\.\\d{6}-\\d+)` : escaped}`);
}
