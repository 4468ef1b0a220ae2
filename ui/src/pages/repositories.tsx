import type { RepositorySummary, UpstreamStatus } from '../api.ts';
import { ErrorNote, Link, Loading, PageTitle, useApi, Table } from '../components.tsx';
import { bytes, date, percent } from '../format.ts';

const STATES: Record<UpstreamStatus['state'], string> = {
  online: 'online',
  'assumed-offline': 'assumed offline',
  'rate-limited': 'rate-limited',
  offline: 'offline (by configuration)',
  'not-configured': 'not configured',
};

export function UpstreamState({ upstream }: { upstream: UpstreamStatus }) {
  const until = upstream.assumedOfflineUntil ?? upstream.blockedUntil;
  return (
    <span class={`state state-${upstream.state}`} title={upstream.reason ?? upstream.url}>
      {STATES[upstream.state]}
      {until && ` until ${date(until)}`}
      {upstream.rateLimitRemaining !== undefined &&
        ` · ${upstream.rateLimitRemaining}${upstream.rateLimit !== undefined ? `/${upstream.rateLimit}` : ''} requests left`}
    </span>
  );
}

export function RepositoriesPage() {
  const { data, error, loading } = useApi<RepositorySummary[]>('/api/repositories');
  return (
    <main>
      <PageTitle>Repositories</PageTitle>
      <Loading when={loading && !data} />
      <ErrorNote error={error} />
      {data && data.length === 0 && <p>No repository here is readable without signing in.</p>}
      {data && data.length > 0 && (
        <Table
          columns={[
            'Repository',
            'Format',
            'Type',
            'URL',
            { label: 'Files', number: true },
            { label: 'Size', number: true },
            { label: 'Cache hits', number: true },
            'Upstream',
            { label: 'Set Me Up', hidden: true },
          ]}
        >
          {data.map((repo) => (
            <tr key={repo.key}>
              <th scope="row">
                <Link href={`/ui/repos/${repo.key}/`}>{repo.key}</Link>
                {repo.description && <div class="muted">{repo.description}</div>}
              </th>
              <td>{repo.packageType}</td>
              <td>{repo.type.toLowerCase()}</td>
              <td>
                <code>{repo.url}</code>
              </td>
              <td class="number">{repo.filesCount ?? (repo.members && `${repo.members.length} member${repo.members.length === 1 ? '' : 's'}`)}</td>
              <td class="number">{bytes(repo.usedSpace)}</td>
              <td class="number">{repo.type === 'REMOTE' ? percent(repo.cacheHitRatio) : ''}</td>
              <td>{repo.upstream ? <UpstreamState upstream={repo.upstream} /> : repo.members?.join(', ')}</td>
              <td>
                <Link href={`/ui/setup/${repo.key}`}>Set Me Up</Link>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </main>
  );
}
