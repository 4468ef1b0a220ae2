import { useState } from 'preact/hooks';
import { Link } from '../../components.tsx';

/** What the administration forms share: comma-separated fields, changes that reload a list, the section's links. */

/** A comma-separated field as its items. */
export const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Runs a change and reports its error, or reloads the list. */
export function useChange(reload: () => void) {
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

/** The links between the administration pages. */
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
