import { useEffect, useState } from 'preact/hooks';
import { api, encodePath, type FileInfo, type FolderInfo, type RepositorySummary } from '../api.ts';
import { CopyButton, Details, ErrorNote, Loading, PageTitle, Snippet, Table, useApi } from '../components.tsx';
import { bytes, date } from '../format.ts';
import { usageOf } from '../usage-snippets.ts';
import { folderRedirect } from './browse.tsx';

/** Artifactory's property syntax: `,` `;` `|` `=` and `\` in a value are escaped with `\`. */
const escapeValue = (value: string) => value.replace(/[\\,;|=]/g, (c) => `\\${c}`);

/** A file's page: how a client asks for it, checksums, size, dates, downloads, cache state, properties, and its download. */
export function ArtifactView({ repoKey, path }: { repoKey: string; path: string }) {
  const storageUrl = `/api/storage/${encodeURIComponent(repoKey)}/${encodePath(path)}`;
  const { data, error, loading, reload } = useApi<FileInfo | FolderInfo>(storageUrl);
  const repo = useApi<RepositorySummary>(`/api/repositories/${encodeURIComponent(repoKey)}`).data;
  const usage = repo && usageOf(repo.packageType, repo.key, repo.url, path);
  useEffect(() => {
    if (data && 'children' in data) folderRedirect(repoKey, path);
  }, [data]);
  if (!data || 'children' in data) {
    return (
      <>
        <PageTitle>{path.split('/').at(-1)}</PageTitle>
        <Loading when={loading} />
        <ErrorNote error={error} />
      </>
    );
  }
  const { checksums } = data;
  const checksum = (value: string | undefined) =>
    value ? (
      <>
        <code class="digest">{value}</code> <CopyButton text={value} />
      </>
    ) : (
      <span class="muted">being computed</span>
    );
  return (
    <>
      <PageTitle>{path.split('/').at(-1)}</PageTitle>
      {data.downloadUri && (
        <p>
          <a class="button" href={data.downloadUri} download>
            Download
          </a>
        </p>
      )}
      {usage && <Snippet title={usage.title} text={usage.text} />}
      <Details
        items={[
          ['Repository', data.repo],
          ['Path', <code>{data.path}</code>],
          ['Size', `${bytes(Number(data.size))} (${data.size} bytes)`],
          ['Type', data.mimeType],
          ['SHA-256', checksum(checksums.sha256)],
          ['SHA-1', checksum(checksums.sha1)],
          ['MD5', checksum(checksums.md5)],
          ['Created', date(data.created)],
          ['Last modified', date(data.lastModified)],
          ['Downloads', String(data.stats.downloadCount)],
          ['Last downloaded', date(data.stats.lastDownloaded)],
        ]}
      />
      {data.cache && (
        <section aria-labelledby="cache-heading">
          <h2 id="cache-heading">Cache</h2>
          <Details
            items={[
              ['Fetched from upstream', date(data.cache.fetchedAt)],
              ['Revalidated after', data.cache.expiresAt ? date(data.cache.expiresAt) : 'never (immutable)'],
              ['Upstream ETag', data.cache.upstreamEtag ?? '—'],
              ['Upstream Last-Modified', data.cache.upstreamLastModified ?? '—'],
            ]}
          />
        </section>
      )}
      <Properties storageUrl={storageUrl} properties={data.properties} onChange={reload} />
    </>
  );
}

function Properties({ storageUrl, properties, onChange }: { storageUrl: string; properties: Record<string, string[]>; onChange: () => void }) {
  const [key, setKey] = useState('');
  const [values, setValues] = useState('');
  const [error, setError] = useState<Error>();
  const change = async (method: 'PUT' | 'DELETE', param: string) => {
    try {
      await api(`${storageUrl}?properties=${encodeURIComponent(param)}`, { method });
      setError(undefined);
      setKey('');
      setValues('');
      onChange();
    } catch (err) {
      setError(err as Error);
    }
  };
  const entries = Object.entries(properties);
  return (
    <section aria-labelledby="properties-heading">
      <h2 id="properties-heading">Properties</h2>
      {entries.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <Table columns={['Key', 'Values', { label: 'Remove', hidden: true }]}>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <td>{k}</td>
              <td>{v.join(', ')}</td>
              <td>
                <button type="button" onClick={() => void change('DELETE', k)} aria-label={`Remove property ${k}`}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void change(
            'PUT',
            `${key}=${values
              .split(',')
              .map((v) => escapeValue(v.trim()))
              .join(',')}`,
          );
        }}
      >
        <label>
          Key
          <input value={key} required pattern="[\w.:\-]{1,255}" onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <label>
          Values (comma-separated)
          <input value={values} onInput={(e) => setValues(e.currentTarget.value)} />
        </label>
        <button type="submit">Set property</button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
