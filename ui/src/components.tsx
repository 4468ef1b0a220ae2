import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api.ts';
import { navigatedInPlace, onLinkClick } from './router.ts';

/** A link inside the app. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  return (
    <a href={props.href} onClick={onLinkClick} class={props.class} aria-current={props.current ? 'page' : undefined}>
      {props.children}
    </a>
  );
}

/** What an API call answered, or why not; `reload` asks again. */
export function useApi<T>(path: string | null): { data?: T; error?: Error; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: path !== null });
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path).then(
      (data) => current && setState({ data, loading: false }),
      (error: Error) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [path, round]);
  return { ...state, reload: useCallback(() => setRound((r) => r + 1), []) };
}

/**
 * A list the API gives a page at a time: `load()` reads the first page (again), `load(next)` appends the
 * page after the `next` the last one gave.
 */
export function usePages<T>(readPage: (next: string | undefined) => Promise<{ items: T[]; next?: string }>) {
  const [items, setItems] = useState<T[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(false);
  const load = async (after?: string) => {
    setLoading(true);
    if (after === undefined) setItems(undefined);
    try {
      const page = await readPage(after);
      setItems((before) => (after === undefined ? page.items : [...(before ?? []), ...page.items]));
      setNext(page.next);
      setError(undefined);
    } catch (err) {
      setError(err as Error);
    } finally {
      setLoading(false);
    }
  };
  return { items, next, error, loading, load };
}

export function ErrorNote({ error }: { error: Error | undefined | null }) {
  return error ? (
    <p class="error" role="alert">
      {error.message}
    </p>
  ) : null;
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}

/** Copies `text` to the clipboard and says so. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<string>();
  const copy = () =>
    navigator.clipboard.writeText(text).then(
      () => setDone('Copied'),
      () => setDone('Copy failed: select the text instead'),
    );
  return (
    <span class="copy">
      <button type="button" onClick={copy}>
        {label}
      </button>
      <span role="status" class="muted">
        {done}
      </span>
    </span>
  );
}

/** A block of configuration with its copy button. */
export function Snippet({ title, file, text }: { title: string; file?: string; text: string }) {
  return (
    <section class="snippet" aria-label={title}>
      <header>
        <h3>
          {title}
          {file && <span class="muted"> — {file}</span>}
        </h3>
        <CopyButton text={text} label={`Copy ${file ?? title}`} />
      </header>
      <pre tabIndex={0}>
        <code>{text}</code>
      </pre>
    </section>
  );
}

/**
 * A page heading that takes the focus when the app changes page in place, so screen readers announce it and
 * Tab continues from it; on a fresh load the browser's own order applies.
 */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const focus = useCallback((h: HTMLHeadingElement | null) => {
    if (navigatedInPlace) h?.focus({ preventScroll: true });
  }, []);
  return (
    <h1 tabIndex={-1} ref={focus}>
      {children}
    </h1>
  );
}

/** A list of definitions (label: value), the shape of every detail panel. */
export function Details({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="details">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A column heading: right-aligned for numbers; `hidden` is read to screen readers only (a column of buttons). */
export type Column = string | { label: string; number?: boolean; hidden?: boolean };

/** A table with its column headings; its rows are the children. */
export function Table({ columns, label, children }: { columns: Column[]; label?: string; children: ComponentChildren }) {
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          {columns.map((column) => {
            const { label: text, number, hidden } = typeof column === 'string' ? { label: column } : column;
            return (
              <th scope="col" key={text} class={number ? 'number' : undefined}>
                {hidden ? <span class="sr-only">{text}</span> : text}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}
