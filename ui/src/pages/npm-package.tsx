import { encodePath } from '../api.ts';
import { ErrorNote, Link, Table, useApi } from '../components.tsx';
import { date } from '../format.ts';

interface Packument {
  'dist-tags'?: Record<string, string>;
  versions?: Record<string, { dist?: { tarball?: string }; deprecated?: string }>;
  time?: Record<string, string>;
}

/** The package an npm repository's folder holds its tarballs for (`name/` or `@scope/name/`), if it is one. */
export function npmPackageOf(path: string): string | undefined {
  return /^((?:@[^/.][^/]*\/)?[^/.@][^/]*)\/$/.exec(path)?.[1];
}

/** An npm package's dist-tags and versions, newest first, as the registry API gives them to npm. */
export function NpmPackage({ repoKey, name }: { repoKey: string; name: string }) {
  const { data, error } = useApi<Packument>(`/${encodeURIComponent(repoKey)}/${name.replace('/', '%2f')}`);
  if (error) return <ErrorNote error={error} />;
  if (!data?.versions) return null;
  const tagsOf = (version: string) =>
    Object.entries(data['dist-tags'] ?? {})
      .filter(([, v]) => v === version)
      .map(([tag]) => tag);
  const versions = Object.keys(data.versions).sort((a, b) => (data.time?.[b] ?? '').localeCompare(data.time?.[a] ?? ''));
  return (
    <section aria-labelledby="npm-versions">
      <h2 id="npm-versions">Versions</h2>
      <Table label={`Versions of ${name}`} columns={['Version', 'Tags', 'Published', 'Deprecated']}>
        {versions.map((version) => {
          const file = data.versions![version]!.dist?.tarball?.split('/').at(-1);
          return (
            <tr key={version}>
              <td>{file ? <Link href={`/ui/repos/${repoKey}/${encodePath(`${name}/-/${file}`)}`}>{version}</Link> : version}</td>
              <td>{tagsOf(version).join(', ')}</td>
              <td>{date(data.time?.[version])}</td>
              <td>{data.versions![version]!.deprecated ?? ''}</td>
            </tr>
          );
        })}
      </Table>
    </section>
  );
}
