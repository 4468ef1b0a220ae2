import { useEffect, useState } from 'preact/hooks';

/** The app's pages live below /ui/; links change the address without reloading. */
export const BASE = '/ui';

/** Whether the page changed in place since it loaded (a new page's heading then takes the focus). */
export let navigatedInPlace = false;

export function navigate(to: string): void {
  navigatedInPlace = true;
  history.pushState(null, '', to);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The current location (path below /ui/, and the query), updated on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const read = () => ({ path: location.pathname.slice(BASE.length) || '/', query: new URLSearchParams(location.search) });
  const [current, setCurrent] = useState(read);
  useEffect(() => {
    const update = () => {
      navigatedInPlace = true;
      setCurrent(read());
    };
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return current;
}

/** A same-app link: a plain anchor (so it can be opened in a new tab) that navigates in place on a plain click. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.currentTarget as HTMLAnchorElement | null) ?? undefined;
  if (!anchor || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href')!);
}
