import type { RepositorySummary } from '../../api.ts';
import { ErrorNote, PageTitle, useApi } from '../../components.tsx';
import { AdminNav } from './common.tsx';

export function RepositoryConfigPage() {
  const repos = useApi<RepositorySummary[]>('/api/repositories');
  return (
    <main>
      <AdminNav current="repositories" />
      <PageTitle>Repository configuration</PageTitle>
      <p class="muted">Repositories are defined in Shelf's config file (shelf.yaml); this view is read-only.</p>
      <ErrorNote error={repos.error} />
      {repos.data?.map((r) => (
        <RepositoryConfig key={r.key} repoKey={r.key} />
      ))}
    </main>
  );
}

function RepositoryConfig({ repoKey }: { repoKey: string }) {
  const { data } = useApi<RepositorySummary>(`/api/repositories/${encodeURIComponent(repoKey)}`);
  return (
    <details>
      <summary>{repoKey}</summary>
      <pre>
        <code>{data?.configuration ? JSON.stringify(data.configuration, null, 2) : 'Loading…'}</code>
      </pre>
    </details>
  );
}
