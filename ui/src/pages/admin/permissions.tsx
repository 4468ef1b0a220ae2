import { useState } from 'preact/hooks';
import { api } from '../../api.ts';
import { ErrorNote, Loading, PageTitle, Table, useApi } from '../../components.tsx';
import { AdminNav, list, useChange } from './common.tsx';

interface PermissionInfo {
  name: string;
  repositories: string[];
  includes: string[];
  excludes: string[];
  anonymous: string[];
  users: Record<string, string[]>;
  groups: Record<string, string[]>;
  source: 'config' | 'api';
}
const parseGrants = (text: string): Record<string, string[]> =>
  Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.split(':'))
      .filter(([who]) => who?.trim())
      .map(([who, actions = '']) => [who!.trim(), list(actions)]),
  );
const showGrants = (grants: Record<string, string[]>) =>
  Object.entries(grants)
    .map(([who, actions]) => `${who}: ${actions.join(', ')}`)
    .join('\n');

export function PermissionsPage() {
  const { data, error, loading, reload } = useApi<PermissionInfo[]>('/api/security/permissions');
  const change = useChange(reload);
  const empty = { name: '', repositories: '', includes: '**', excludes: '', anonymous: '', users: '', groups: '' };
  const [form, setForm] = useState(empty);
  const field = (key: keyof typeof empty) => ({
    name: `permission-${key}`,
    value: form[key],
    onInput: (e: Event) => setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value }),
  });
  const save = (e: Event) => {
    e.preventDefault();
    const body = {
      repositories: list(form.repositories),
      includes: list(form.includes),
      excludes: list(form.excludes),
      anonymous: list(form.anonymous),
      users: parseGrants(form.users),
      groups: parseGrants(form.groups),
    };
    void change.run(() => api(`/api/security/permissions/${encodeURIComponent(form.name)}`, { method: 'PUT', body }));
  };
  return (
    <main>
      <AdminNav current="permissions" />
      <PageTitle>Permission targets</PageTitle>
      <form onSubmit={save} class="grid-form" aria-label="Create or change a permission target">
        <h2>Create or change a permission target</h2>
        <label>
          Name
          <input required {...field('name')} />
        </label>
        <label>
          Repositories <span class="muted">(comma-separated keys, or ANY)</span>
          <input required {...field('repositories')} />
        </label>
        <label>
          Include patterns <span class="muted">(e.g. **, @team/**, com/acme/**)</span>
          <input {...field('includes')} />
        </label>
        <label>
          Exclude patterns
          <input {...field('excludes')} />
        </label>
        <label>
          Anonymous may <span class="muted">(read, write, delete, annotate, manage)</span>
          <input {...field('anonymous')} />
        </label>
        <label>
          Users <span class="muted">(one per line: alice: read, write)</span>
          <textarea rows={3} {...field('users')} />
        </label>
        <label>
          Groups <span class="muted">(one per line: developers: read)</span>
          <textarea rows={3} {...field('groups')} />
        </label>
        <button type="submit">Save permission target</button>
      </form>
      <ErrorNote error={error ?? change.error} />
      <Loading when={loading} />
      {data && (
        <Table columns={['Target', 'Repositories', 'Paths', 'Anonymous', 'Users', 'Groups', { label: 'Actions', hidden: true }]}>
          {data.map((p) => (
            <tr key={p.name}>
              <th scope="row">
                {p.name}
                {p.source === 'config' && <div class="muted">from the config file</div>}
              </th>
              <td>{p.repositories.join(', ')}</td>
              <td>
                {p.includes.join(', ')}
                {p.excludes.length > 0 && ` except ${p.excludes.join(', ')}`}
              </td>
              <td>{p.anonymous.join(', ')}</td>
              <td class="pre">{showGrants(p.users)}</td>
              <td class="pre">{showGrants(p.groups)}</td>
              <td class="actions">
                {p.source === 'api' && (
                  <>
                    <button
                      type="button"
                      onClick={() =>
                        setForm({
                          name: p.name,
                          repositories: p.repositories.join(', '),
                          includes: p.includes.join(', '),
                          excludes: p.excludes.join(', '),
                          anonymous: p.anonymous.join(', '),
                          users: showGrants(p.users),
                          groups: showGrants(p.groups),
                        })
                      }
                    >
                      Edit {p.name}
                    </button>
                    <button
                      type="button"
                      onClick={() => void change.run(() => api(`/api/security/permissions/${encodeURIComponent(p.name)}`, { method: 'DELETE' }))}
                    >
                      Delete {p.name}
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </main>
  );
}

/** The configuration of every repository, read-only: it lives in the config file. */
