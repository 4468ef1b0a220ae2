import { useState } from 'preact/hooks';
import { api, type RepositorySummary } from '../api.ts';
import { ErrorNote, Link, Loading, PageTitle, useApi, Table } from '../components.tsx';

interface UserInfo {
  name: string;
  email?: string;
  admin: boolean;
  disabled: boolean;
  passwordLogin: boolean;
  groups: string[];
}
interface GroupInfo {
  name: string;
  description: string;
  members: string[];
}
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

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Runs a change and reports its error, or reloads the list. */
function useChange(reload: () => void) {
  const [error, setError] = useState<Error>();
  const run = async (change: () => Promise<unknown>) => {
    try {
      await change();
      setError(undefined);
      reload();
      return true;
    } catch (err) {
      setError(err as Error);
      return false;
    }
  };
  return { error, run };
}

export function AdminNav({ current }: { current: string }) {
  const pages = [
    ['users', 'Users'],
    ['groups', 'Groups'],
    ['permissions', 'Permissions'],
    ['repositories', 'Repository configuration'],
  ];
  return (
    <nav aria-label="Administration" class="subnav">
      {pages.map(([page, label]) => (
        <Link key={page} href={`/ui/admin/${page}`} current={page === current}>
          {label}
        </Link>
      ))}
    </nav>
  );
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

export function GroupsPage() {
  const { data, error, loading, reload } = useApi<GroupInfo[]>('/api/security/groups');
  const change = useChange(reload);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [members, setMembers] = useState('');
  const save = (e: Event) => {
    e.preventDefault();
    void change.run(() => api(`/api/security/groups/${encodeURIComponent(name)}`, { method: 'PUT', body: { description, members: list(members) } }));
  };
  return (
    <main>
      <AdminNav current="groups" />
      <PageTitle>Groups</PageTitle>
      <form onSubmit={save} class="grid-form" aria-label="Create or change a group">
        <h2>Create or change a group</h2>
        <label>
          Name
          <input name="group-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Description
          <input name="group-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <label>
          Members <span class="muted">(comma-separated user names)</span>
          <input name="group-members" value={members} onInput={(e) => setMembers(e.currentTarget.value)} />
        </label>
        <button type="submit">Save group</button>
      </form>
      <ErrorNote error={error ?? change.error} />
      <Loading when={loading} />
      {data && (
        <Table columns={['Group', 'Description', 'Members', { label: 'Actions', hidden: true }]}>
          {data.map((g) => (
            <tr key={g.name}>
              <th scope="row">{g.name}</th>
              <td>{g.description}</td>
              <td>{g.members.join(', ')}</td>
              <td class="actions">
                <button
                  type="button"
                  onClick={() => {
                    setName(g.name);
                    setDescription(g.description);
                    setMembers(g.members.join(', '));
                  }}
                >
                  Edit {g.name}
                </button>
                <button type="button" onClick={() => void change.run(() => api(`/api/security/groups/${encodeURIComponent(g.name)}`, { method: 'DELETE' }))}>
                  Delete {g.name}
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </main>
  );
}

/** `alice: read, write` per line. */
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
