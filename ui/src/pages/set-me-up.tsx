import { useState } from 'preact/hooks';
import { api, type RepositorySummary, type User } from '../api.ts';
import { ErrorNote, Link, Loading, PageTitle, Snippet, useApi } from '../components.tsx';
import { setupSnippets } from '../setup-snippets.ts';

const TOKEN_DAYS = 30;

/** The client configuration for one repository, with this Shelf's address and, on request, a new token. */
export function SetMeUpPage({ repoKey, user }: { repoKey: string; user: User | null }) {
  const { data: repo, error, loading } = useApi<RepositorySummary>(`/api/repositories/${encodeURIComponent(repoKey)}`);
  const [token, setToken] = useState<string>();
  const [tokenError, setTokenError] = useState<Error>();
  const createToken = async () => {
    try {
      const created = await api<{ token: string }>('/api/security/token', {
        method: 'POST',
        body: { description: `Set Me Up: ${repoKey}`, expiresInSeconds: TOKEN_DAYS * 86400 },
      });
      setToken(created.token);
    } catch (err) {
      setTokenError(err as Error);
    }
  };
  return (
    <main>
      <PageTitle>Set Me Up: {repoKey}</PageTitle>
      <Loading when={loading} />
      <ErrorNote error={error} />
      {repo && (
        <>
          <p>
            A {repo.type.toLowerCase()} {repo.packageType} repository at <code>{repo.url}</code>. <Link href={`/ui/repos/${repo.key}/`}>Browse it</Link>.
          </p>
          {user ? (
            token ? (
              <p class="notice" role="status">
                A new token, valid for {TOKEN_DAYS} days, is filled in below. It is shown only now: copy it before leaving this page.
              </p>
            ) : (
              <p>
                <button type="button" onClick={() => void createToken()}>
                  Create a token and fill it in
                </button>{' '}
                <span class="muted">or replace YOUR_TOKEN with one of yours (Tokens page)</span>
              </p>
            )
          ) : (
            <p class="muted">
              <Link href={`/ui/signin?next=/ui/setup/${repoKey}`}>Sign in</Link> to fill in a token of your own.
            </p>
          )}
          <ErrorNote error={tokenError} />
          {setupSnippets(repo, { baseUrl: location.origin, username: user?.name ?? null, ...(token && { token }) }).map((s) => (
            <Snippet key={s.title} {...s} />
          ))}
        </>
      )}
    </main>
  );
}
