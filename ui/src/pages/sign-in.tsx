import { useState } from 'preact/hooks';
import { api, type Session } from '../api.ts';
import { ErrorNote, PageTitle } from '../components.tsx';
import { navigate } from '../router.ts';

export function SignInPage({ onSignedIn, next }: { onSignedIn: (session: Session) => void; next: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api<Session>('/api/session', { method: 'POST', body: { username, password } }));
      // Only a page of this app: `next` comes from the address bar.
      navigate(next.startsWith('/ui/') ? next : '/ui/');
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="narrow">
      <PageTitle>Sign in</PageTitle>
      <form onSubmit={submit} class="stack">
        <label>
          User name
          <input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
