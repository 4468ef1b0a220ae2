import { useEffect } from 'preact/hooks';
import { api, encodePath, type FolderInfo, type RepositorySummary } from '../api.ts';
import { ErrorNote, Link, Loading, PageTitle, Table, useApi, usePages } from '../components.tsx';
import { bytes, date } from '../format.ts';
import { navigate } from '../router.ts';
import { ArtifactView } from './artifact.tsx';
import { NpmPackage, npmPackageOf } from './npm-package.tsx';
import { UpstreamState } from './repositories.tsx';

/** `/ui/repos/<key>/<path>`: a folder of a repository (path empty or ending in /), or a file's page. */
export function BrowsePage({ repoKey, path }: { repoKey: string; path: string }) {
  const folder = path === '' || path.endsWith('/');
  return (
    <main>
      <Breadcrumbs repoKey={repoKey} path={path} />
      {folder ? <FolderView repoKey={repoKey} path={path} /> : <ArtifactView repoKey={repoKey} path={path} />}
    </main>
  );
}

function Breadcrumbs({ repoKey, path }: { repoKey: string; path: string }) {
  const segments = path.split('/').filter(Boolean);
  return (
    <nav aria-label="Breadcrumb" class="breadcrumbs">
      <ol>
        <li>
          <Link href="/ui/">Repositories</Link>
        </li>
        <li>
          <Link href={`/ui/repos/${repoKey}/`} current={segments.length === 0}>
            {repoKey}
          </Link>
        </li>
        {segments.map((segment, i) => {
          const last = i === segments.length - 1;
          const href = `/ui/repos/${repoKey}/${encodePath(segments.slice(0, i + 1).join('/'))}${last && !path.endsWith('/') ? '' : '/'}`;
          return (
            <li key={href}>
              <Link href={href} current={last}>
                {segment}
              </Link>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

/** Where the format keeps what, so the tree reads as its client names things. */
const FOLDER_LABELS: Record<string, string> = {
  _tags: 'tags',
  _manifests: 'manifests',
  _blobs: 'layers and configs',
  _referrers: 'referrers',
  '-': 'tarballs',
  '.npm': 'package metadata',
  '.pypi': 'upload records',
  packages: 'projects',
};

function FolderView({ repoKey, path }: { repoKey: string; path: string }) {
  const repo = useApi<RepositorySummary>(`/api/repositories/${encodeURIComponent(repoKey)}`);
  const npmPackage = repo.data?.packageType === 'npm' ? npmPackageOf(path) : undefined;
  const {
    items: children,
    next,
    error,
    loading,
    load,
  } = usePages(async (from) => {
    const query = new URLSearchParams({ limit: '100', ...(from !== undefined && { from }) });
    const page = await api<FolderInfo>(`/api/storage/${encodeURIComponent(repoKey)}/${encodePath(path)}?${query}`);
    return { items: page.children, ...(page.next !== undefined && { next: page.next }) };
  });
  useEffect(() => void load(), [repoKey, path]);
  return (
    <>
      <PageTitle>
        {repoKey}/{path}
      </PageTitle>
      {repo.data && path === '' && (
        <p class="muted">
          {repo.data.type.toLowerCase()} {repo.data.packageType} repository
          {repo.data.upstream && (
            <>
              {' '}
              of <code>{repo.data.upstream.url}</code>: <UpstreamState upstream={repo.data.upstream} />
            </>
          )}
          {repo.data.members && <> over {repo.data.members.join(', ')}</>} · <Link href={`/ui/setup/${repoKey}`}>Set Me Up</Link>
        </p>
      )}
      {npmPackage && <NpmPackage repoKey={repoKey} name={npmPackage} />}
      <ErrorNote error={error} />
      {children?.length === 0 && <p>This repository holds nothing you may read yet.</p>}
      {children && children.length > 0 && (
        <Table columns={['Name', { label: 'Size', number: true }, 'Last modified']}>
          {children.map((child) => {
            const name = child.uri.slice(1);
            const href = `/ui/repos/${repoKey}/${encodePath(path + name)}${child.folder ? '/' : ''}`;
            return (
              <tr key={child.uri}>
                <td>
                  <Link href={href}>{child.folder ? `${name}/` : name}</Link>
                  {child.folder && FOLDER_LABELS[name] && <span class="muted"> {FOLDER_LABELS[name]}</span>}
                </td>
                <td class="number">{bytes(child.size)}</td>
                <td>{child.lastModified ? date(child.lastModified) : ''}</td>
              </tr>
            );
          })}
        </Table>
      )}
      <Loading when={loading} />
      {next !== undefined && !loading && (
        <button type="button" onClick={() => void load(next)}>
          Show more
        </button>
      )}
    </>
  );
}

/** A folder's address without the trailing slash is the same folder. */
export function folderRedirect(repoKey: string, path: string): void {
  navigate(`/ui/repos/${repoKey}/${encodePath(path)}/`);
}
