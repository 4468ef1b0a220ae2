import { useState } from 'preact/hooks';
import { api, type User } from '../api.ts';
import { CopyButton, ErrorNote, Loading, PageTitle, useApi, Table } from '../components.tsx';
import { date } from '../format.ts';

interface TokenInfo {
  id: string;
  username: string;
  description: string;
  scope?: { repositories: string[]; actions: string[] };
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  state: 'active' | 'revoked' | 'expired';
}

const ACTIONS = ['read', 'write', 'delete', 'annotate', 'manage'];
const when = (ms: number | null) => (ms === null ? '—' : date(new Date(ms).toISOString()));

/** API tokens: a user's own; an administrator's view holds everyone's. */
export function TokensPage({ user }: { user: User }) {
  const { data, error, loading, reload } = useApi<TokenInfo[]>('/api/security/token');
  const [actionError, setActionError] = useState<Error>();
  const revoke = async (id: string) => {
    try {
      await api(`/api/security/token/${encodeURIComponent(id)}`, { method: 'DELETE' });
      reload();
    } catch (err) {
      setActionError(err as Error);
    }
  };
  return (
    <main>
      <PageTitle>API tokens</PageTitle>
      <CreateToken user={user} onCreated={reload} />
      <h2>{user.admin ? 'All tokens' : 'Your tokens'}</h2>
      <Loading when={loading} />
      <ErrorNote error={error ?? actionError} />
      {data && (
        <Table columns={['Id', 'User', 'Description', 'Scope', 'Created', 'Expires', 'Last used', 'State', { label: 'Revoke', hidden: true }]}>
          {data.map((t) => (
            <tr key={t.id}>
              <td>
                <code>{t.id}</code>
              </td>
              <td>{t.username}</td>
              <td>{t.description}</td>
              <td>{t.scope ? `${t.scope.actions.join(', ')} in ${t.scope.repositories.join(', ')}` : 'all the user may do'}</td>
              <td>{when(t.createdAt)}</td>
              <td>{t.expiresAt === null ? 'never' : when(t.expiresAt)}</td>
              <td>{when(t.lastUsedAt)}</td>
              <td>{t.state}</td>
              <td>
                {t.state === 'active' && (
                  <button type="button" onClick={() => void revoke(t.id)} aria-label={`Revoke token ${t.id}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </main>
  );
}

function CreateToken({ user, onCreated }: { user: User; onCreated: () => void }) {
  const [username, setUsername] = useState(user.name);
  const [description, setDescription] = useState('');
  const [days, setDays] = useState('30');
  const [repositories, setRepositories] = useState('');
  const [actions, setActions] = useState<string[]>([]);
  const [created, setCreated] = useState<{ id: string; token: string }>();
  const [error, setError] = useState<Error>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const repos = repositories
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);
    try {
      const token = await api<{ id: string; token: string }>('/api/security/token', {
        method: 'POST',
        body: {
          ...(username !== user.name && { username }),
          description: description || 'created in the web UI',
          expiresInSeconds: Number(days) * 86400,
          ...(repos.length > 0 && { scope: { repositories: repos, actions: actions.length > 0 ? actions : ['read'] } }),
        },
      });
      setCreated(token);
      setError(undefined);
      onCreated();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <section aria-labelledby="create-token">
      <h2 id="create-token">Create a token</h2>
      <form onSubmit={submit} class="grid-form">
        {user.admin && (
          <label>
            For user
            <input name="token-user" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Description
          <input name="token-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <label>
          Expires after
          <select name="token-days" value={days} onChange={(e) => setDays(e.currentTarget.value)}>
            <option value="1">1 day</option>
            <option value="30">30 days</option>
            <option value="90">90 days</option>
            <option value="365">1 year</option>
            <option value="0">never</option>
          </select>
        </label>
        <label>
          Only in repositories <span class="muted">(comma-separated; empty: wherever the user may)</span>
          <input name="token-repositories" value={repositories} onInput={(e) => setRepositories(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>Only these actions (with repositories; default read)</legend>
          {ACTIONS.map((a) => (
            <label key={a} class="choice">
              <input
                type="checkbox"
                checked={actions.includes(a)}
                onChange={(e) => setActions((now) => (e.currentTarget.checked ? [...now, a] : now.filter((x) => x !== a)))}
              />
              {a}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create token</button>
      </form>
      <ErrorNote error={error} />
      {created && (
        <div class="notice" role="status">
          <p>
            Token <code>{created.id}</code> created. This is the only time its value is shown:
          </p>
          <p>
            <code class="secret" data-testid="new-token">
              {created.token}
            </code>{' '}
            <CopyButton text={created.token} />
          </p>
        </div>
      )}
    </section>
  );
}
