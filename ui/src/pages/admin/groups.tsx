import { useState } from 'preact/hooks';
import { api } from '../../api.ts';
import { ErrorNote, Loading, PageTitle, Table, useApi } from '../../components.tsx';
import { AdminNav, list, useChange } from './common.tsx';

interface GroupInfo {
  name: string;
  description: string;
  members: string[];
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
