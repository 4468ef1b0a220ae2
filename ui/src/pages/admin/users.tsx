import { useState } from 'preact/hooks';
import { api } from '../../api.ts';
import { ErrorNote, Loading, PageTitle, Table, useApi } from '../../components.tsx';
import { AdminNav, list, useChange } from './common.tsx';

interface UserInfo {
  name: string;
  email?: string;
  admin: boolean;
  disabled: boolean;
  passwordLogin: boolean;
  groups: string[];
}
export function UsersPage() {
  const { data, error, loading, reload } = useApi<UserInfo[]>('/api/security/users');
  const change = useChange(reload);
  const [editing, setEditing] = useState<string>();
  return (
    <main>
      <AdminNav current="users" />
      <PageTitle>Users</PageTitle>
      <UserForm onSave={(name, body) => change.run(() => api(`/api/security/users/${encodeURIComponent(name)}`, { method: 'PUT', body }))} />
      <ErrorNote error={error ?? change.error} />
      <Loading when={loading} />
      {data && (
        <Table columns={['User', 'Email', 'Groups', 'Administrator', 'State', { label: 'Actions', hidden: true }]}>
          {data.map((u) => (
            <tr key={u.name}>
              <th scope="row">{u.name}</th>
              <td>{u.email ?? ''}</td>
              <td>{u.groups.join(', ')}</td>
              <td>{u.admin ? 'yes' : 'no'}</td>
              <td>{u.disabled ? 'disabled' : u.passwordLogin ? 'active' : 'active (tokens only)'}</td>
              <td class="actions">
                <button type="button" onClick={() => setEditing(editing === u.name ? undefined : u.name)} aria-expanded={editing === u.name}>
                  Edit {u.name}
                </button>
                <button
                  type="button"
                  onClick={() =>
                    void change.run(() => api(`/api/security/users/${encodeURIComponent(u.name)}`, { method: 'PUT', body: { disabled: !u.disabled } }))
                  }
                >
                  {u.disabled ? 'Enable' : 'Disable'} {u.name}
                </button>
                <button
                  type="button"
                  onClick={() =>
                    confirm(`Delete ${u.name} and their tokens?`) &&
                    void change.run(() => api(`/api/security/users/${encodeURIComponent(u.name)}`, { method: 'DELETE' }))
                  }
                >
                  Delete {u.name}
                </button>
                {editing === u.name && (
                  <UserForm
                    existing={u}
                    onSave={async (name, body) => {
                      const saved = await change.run(() => api(`/api/security/users/${encodeURIComponent(name)}`, { method: 'PUT', body }));
                      if (saved) setEditing(undefined);
                      return saved;
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </main>
  );
}

/** Creates a user, or changes one (a new password resets it; empty leaves it). */
function UserForm({ existing, onSave }: { existing?: UserInfo; onSave: (name: string, body: object) => Promise<boolean> }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState(existing?.email ?? '');
  const [groups, setGroups] = useState(existing?.groups.join(', ') ?? '');
  const [admin, setAdmin] = useState(existing?.admin ?? false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { ...(password && { password }), ...(email && { email }), groups: list(groups), admin };
    if (await onSave(name, body)) {
      setPassword('');
      if (!existing) {
        setName('');
        setEmail('');
        setGroups('');
        setAdmin(false);
      }
    }
  };
  const id = existing ? `user-${existing.name}` : 'new-user';
  return (
    <form onSubmit={submit} class="grid-form" aria-label={existing ? `Edit ${existing.name}` : 'Create a user'}>
      {!existing && <h2>Create a user</h2>}
      {!existing && (
        <label>
          User name
          <input name={`${id}-name`} required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
      )}
      <label>
        {existing ? 'New password (empty: unchanged)' : 'Password'}
        <input
          name={`${id}-password`}
          type="password"
          autoComplete="new-password"
          required={!existing}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <label>
        Email
        <input name={`${id}-email`} type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Groups <span class="muted">(comma-separated)</span>
        <input name={`${id}-groups`} value={groups} onInput={(e) => setGroups(e.currentTarget.value)} />
      </label>
      <label class="choice">
        <input type="checkbox" name={`${id}-admin`} checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} />
        Administrator
      </label>
      <button type="submit">{existing ? `Save ${existing.name}` : 'Create user'}</button>
    </form>
  );
}
