import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, useCsrfToken, whenSignedOut, type Session, type User } from './api.ts';
import { ErrorNote, Link, PageTitle } from './components.tsx';
import { navigate, useLocation } from './router.ts';
import { GroupsPage } from './pages/admin/groups.tsx';
import { PermissionsPage } from './pages/admin/permissions.tsx';
import { RepositoryConfigPage } from './pages/admin/repository-config.tsx';
import { UsersPage } from './pages/admin/users.tsx';
import { BrowsePage } from './pages/browse.tsx';
import { RepositoriesPage } from './pages/repositories.tsx';
import { SearchPage } from './pages/search.tsx';
import { SetMeUpPage } from './pages/set-me-up.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { SystemPage } from './pages/system.tsx';
import { TokensPage } from './pages/tokens.tsx';
import './style.css';

function App() {
  const [session, setSession] = useState<Session>();
  const [error, setError] = useState<Error>();
  const { path, query } = useLocation();
  const signedIn = (next: Session) => {
    useCsrfToken(next.csrfToken);
    setSession(next);
  };
  useEffect(() => {
    const readSession = () => api<Session>('/api/session').then(signedIn, setError);
    // A session that ended elsewhere: the page shows the visitor as they now are (anonymous).
    whenSignedOut(() => void readSession());
    void readSession();
  }, []);
  const signOut = async () => {
    await api('/api/session', { method: 'DELETE' }).catch(setError);
    signedIn({ user: null });
    navigate('/ui/');
  };
  if (!session) return error ? <ErrorNote error={error} /> : null;
  const user = session.user;
  return (
    <>
      <a href="#content" class="skip">
        Skip to content
      </a>
      <header class="top">
        <Link href="/ui/" class="brand">
          Shelf
        </Link>
        <nav aria-label="Main">
          <Link href="/ui/" current={path === '/' || path.startsWith('/repos/')}>
            Repositories
          </Link>
          <Link href="/ui/search" current={path === '/search'}>
            Search
          </Link>
          {user && (
            <Link href="/ui/tokens" current={path === '/tokens'}>
              Tokens
            </Link>
          )}
          {user?.admin && (
            <>
              <Link href="/ui/admin/users" current={path.startsWith('/admin/')}>
                Administration
              </Link>
              <Link href="/ui/system" current={path === '/system'}>
                System
              </Link>
            </>
          )}
        </nav>
        <div class="who">
          {user ? (
            <>
              <span>
                Signed in as <strong>{user.name}</strong>
              </span>{' '}
              <button type="button" onClick={() => void signOut()}>
                Sign out
              </button>
            </>
          ) : (
            path !== '/signin' && <Link href={`/ui/signin?next=${encodeURIComponent(location.pathname + location.search)}`}>Sign in</Link>
          )}
        </div>
      </header>
      <div id="content">
        <Page path={path} query={query} user={user} onSignedIn={signedIn} />
      </div>
    </>
  );
}

function Page({ path, query, user, onSignedIn }: { path: string; query: URLSearchParams; user: User | null; onSignedIn: (s: Session) => void }) {
  if (path === '/') return <RepositoriesPage />;
  if (path === '/signin') return <SignInPage onSignedIn={onSignedIn} next={query.get('next') ?? '/ui/'} />;
  if (path === '/search') return <SearchPage query={query} />;
  const repoPage = /^\/repos\/([^/]+)\/?(.*)$/.exec(path);
  if (repoPage) return <BrowsePage repoKey={decodeURIComponent(repoPage[1]!)} path={repoPage[2]!.split('/').map(decodeURIComponent).join('/')} />;
  const setup = /^\/setup\/([^/]+)$/.exec(path);
  if (setup) return <SetMeUpPage repoKey={decodeURIComponent(setup[1]!)} user={user} />;
  if (!user && (path === '/tokens' || path === '/system' || path.startsWith('/admin/'))) return <SignInPage onSignedIn={onSignedIn} next={`/ui${path}`} />;
  if (user && path === '/tokens') return <TokensPage user={user} />;
  if (user?.admin) {
    if (path === '/system') return <SystemPage />;
    if (path === '/admin/users') return <UsersPage />;
    if (path === '/admin/groups') return <GroupsPage />;
    if (path === '/admin/permissions') return <PermissionsPage />;
    if (path === '/admin/repositories') return <RepositoryConfigPage />;
  }
  if (path === '/system' || path.startsWith('/admin/')) {
    return (
      <main>
        <PageTitle>Administrators only</PageTitle>
        <p>This page is for Shelf's administrators.</p>
      </main>
    );
  }
  return (
    <main>
      <PageTitle>Not found</PageTitle>
      <p>
        There is no such page. <Link href="/ui/">Repositories</Link>
      </p>
    </main>
  );
}

render(<App />, document.getElementById('app')!);
