import type { Importance } from './sweep-api.js';

/**
 * Parameter importance as bars: each searched parameter's share of the objective's variation that the
 * server attributes to it (shares sum to 1). Bars are scaled to the largest share, so the ranking reads
 * at a glance; the number is the share itself.
 */
export function ImportanceBars(props: { importance: Importance[] | null; error: string | null; params: string[] }) {
  const { importance, error } = props;
  if (error) return <div class="muted">Importance unavailable: {error}</div>;
  if (!importance) return <div class="muted">Loading…</div>;
  const rows = importance.filter((r) => props.params.includes(r.name)).sort((a, b) => b.importance - a.importance);
  const top = Math.max(...rows.map((r) => r.importance), 0);
  if (rows.length === 0 || top <= 0) return <div class="muted">Not enough finished trials with a value to rank the parameters.</div>;
  return (
    <div class="sweep-importance" data-rows={rows.length}>
      {rows.map((r) => (
        <div class="imp-row" key={r.name} data-name={r.name} data-importance={r.importance}>
          <span class="imp-name" title={r.name}>{r.name}</span>
          <span class="imp-track">
            <span class="imp-bar" style={{ width: `${((100 * r.importance) / top).toFixed(1)}%` }} />
          </span>
          <span class="imp-val">{(100 * r.importance).toFixed(1)}%</span>
        </div>
      ))}
    </div>
  );
}
