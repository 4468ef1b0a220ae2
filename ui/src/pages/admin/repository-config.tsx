import { useState } from 'preact/hooks';
import type { RepositorySummary } from '../../api.ts';
import { ErrorNote, PageTitle, useApi } from '../../components.tsx';
import { AdminNav } from './common.tsx';

/** Every repository's configuration, read-only: it lives in the config file. */
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

/** One repository's configuration, read when it is opened (not one request per repository on arrival). */
function RepositoryConfig({ repoKey }: { repoKey: string }) {
  const [open, setOpen] = useState(false);
  const { data } = useApi<RepositorySummary>(open ? `/api/repositories/${encodeURIComponent(repoKey)}` : null);
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{repoKey}</summary>
      <pre>
        <code>{data?.configuration ? JSON.stringify(data.configuration, null, 2) : 'Loading…'}</code>
      </pre>
    </details>
  );
}
