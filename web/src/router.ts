import { useSubscription } from './subscription.js';

/**
 * The URL holds the view: the path picks the page, the query its state (experiment, filter, columns,
 * selection, chart settings), so a view is shared by pasting its URL.
 */
export interface Route {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

/** Replaces some query parameters of the current URL (null removes one) without a new history entry. */
export function setQuery(changes: Record<string, string | null>, opts: { push?: boolean } = {}): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(`${location.pathname}${s ? `?${s}` : ''}`, { replace: !opts.push });
}

export function useRoute(): Route {
  useSubscription(listeners, () => location.pathname + location.search);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** An <a> that navigates without reloading (ctrl/middle click still open a new tab). */
export function linkHandler(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/');
}
