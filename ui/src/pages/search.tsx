import { useEffect, useState } from 'preact/hooks';
import { api, encodePath, type SearchResult } from '../api.ts';
import { ErrorNote, Link, Loading, PageTitle, Table, usePages } from '../components.tsx';
import { bytes, date } from '../format.ts';
import { navigate } from '../router.ts';

type Kind = 'name' | 'checksum' | 'property';

/** The API request for a search as typed: a name glob, a checksum (its length says which), or key=value pairs. */
function searchUrl(kind: Kind, text: string): string {
  const value = text.trim();
  if (kind === 'name') return `/api/search/artifact?${new URLSearchParams({ name: value })}`;
  if (kind === 'checksum') {
    const algorithm = value.length === 32 ? 'md5' : value.length === 40 ? 'sha1' : 'sha256';
    return `/api/search/checksum?${new URLSearchParams({ [algorithm]: value })}`;
  }
  const params = new URLSearchParams();
  for (const pair of value.split(/[;\s]+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    params.append(eq === -1 ? pair : pair.slice(0, eq), eq === -1 ? '' : pair.slice(eq + 1));
  }
  return `/api/search/prop?${params}`;
}

const LABELS: Record<Kind, string> = { name: 'Name or path', checksum: 'Checksum', property: 'Property' };
const HINTS: Record<Kind, string> = {
  name: 'a package, image or file name; * and ? are wildcards',
  checksum: 'a SHA-256, SHA-1 or MD5 in hex',
  property: 'key=value (several separated by spaces; key= for any value)',
};

/** `/ui/search?kind=&q=`: the search is in the address, so a result list can be shared and reloaded. */
export function SearchPage({ query }: { query: URLSearchParams }) {
  const kind = (['name', 'checksum', 'property'].includes(query.get('kind') ?? '') ? query.get('kind') : 'name') as Kind;
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  const [chosen, setChosen] = useState<Kind>(kind);
  const {
    items: results,
    next,
    error,
    loading,
    load,
  } = usePages(async (after) => {
    const url = searchUrl(kind, q) + (after ? `&${new URLSearchParams({ after })}` : '');
    const page = await api<{ results: SearchResult[]; next?: string }>(url);
    return { items: page.results, ...(page.next !== undefined && { next: page.next }) };
  });
  useEffect(() => {
    setText(q);
    setChosen(kind);
    if (q.trim() !== '') void load();
  }, [kind, q]);
  return (
    <main>
      <PageTitle>Search</PageTitle>
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/ui/search?${new URLSearchParams({ kind: chosen, q: text })}`);
        }}
      >
        <fieldset>
          <legend>Search by</legend>
          {(Object.keys(LABELS) as Kind[]).map((k) => (
            <label key={k} class="choice">
              <input type="radio" name="kind" value={k} checked={chosen === k} onChange={() => setChosen(k)} />
              {LABELS[k]}
            </label>
          ))}
        </fieldset>
        <label>
          {LABELS[chosen]} <span class="muted">({HINTS[chosen]})</span>
          <input name="q" required value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      <Loading when={loading} />
      {results && results.length === 0 && <p>Nothing found that you may read.</p>}
      {results && results.length > 0 && (
        <Table label="Search results" columns={['Repository', 'Path', { label: 'Size', number: true }, 'Last modified']}>
          {results.map((r) => (
            <tr key={`${r.repo}${r.path}`}>
              <td>{r.repo}</td>
              <td>
                <Link href={`/ui/repos/${r.repo}${encodePath(r.path)}`}>{r.path.slice(1)}</Link>
              </td>
              <td class="number">{bytes(r.size)}</td>
              <td>{date(r.lastModified)}</td>
            </tr>
          ))}
        </Table>
      )}
      {next && !loading && (
        <button type="button" onClick={() => void load(next)}>
          Show more
        </button>
      )}
    </main>
  );
}
