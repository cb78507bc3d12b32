import type { ComponentChildren } from 'preact';

/** The last request's error as an alert paragraph, and an optional notice (what just succeeded) below it. */
export function StatusLine({ error, notice }: { error: string | null; notice?: string | null }) {
  return (
    <>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
    </>
  );
}

/** "Loading…" until the list has come, `empty` (when given) for an empty list, else what `children` makes of it. */
export function Loaded<T>({ items, empty, children }: { items: T[] | null; empty?: string; children: (items: T[]) => ComponentChildren }) {
  if (items === null) return <p class="muted">Loading…</p>;
  if (empty !== undefined && items.length === 0) return <p class="muted">{empty}</p>;
  return <>{children(items)}</>;
}
