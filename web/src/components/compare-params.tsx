import { useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { fmtNum } from './chart-colors.js';
import { differs, type CRun } from './compare-model.js';

/** Rows = params (then latest metrics), columns = runs; rows whose values differ are highlighted. */
export function CompareTable(props: { runs: CRun[]; paramKeys: string[]; metricKeys: string[]; highlight: Set<string> | null }) {
  const { runs, paramKeys, metricKeys, highlight } = props;
  const [onlyDiff, setOnlyDiff] = useState(false);
  const rows = (keys: string[], get: (r: CRun, k: string) => string | undefined, kind: string) =>
    keys
      .map((k) => ({ k, diff: runs.length > 1 && differs(runs, (r) => get(r, k)) }))
      .filter((row) => !onlyDiff || row.diff)
      .map(({ k, diff }) => (
        <tr key={kind + k} class={diff ? 'diff' : ''} data-key={k} data-kind={kind} data-diff={diff ? '1' : '0'}>
          <th title={k}>{k}</th>
          {runs.map((r) => {
            const v = get(r, k);
            return (
              <td key={r.id} class={highlight && !highlight.has(r.id) ? 'dim' : ''}>
                {v === undefined ? <span class="muted">–</span> : v}
              </td>
            );
          })}
        </tr>
      ));
  const nDiff = paramKeys.filter((k) => runs.length > 1 && differs(runs, (r) => r.params.get(k))).length;
  return (
    <div class="ctable-wrap">
      <div class="toolbar">
        <label>
          <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff((e.currentTarget as HTMLInputElement).checked)} /> only rows that differ
        </label>
        <span class="muted">
          {paramKeys.length} params, {nDiff} differ
        </span>
      </div>
      <div class="ctable-scroll">
        <table class="plain ctable">
          <thead>
            <tr>
              <th>run</th>
              {runs.map((r) => (
                <th key={r.id} class={highlight && !highlight.has(r.id) ? 'dim' : ''}>
                  <span class="sw" style={{ background: r.color }} />
                  <a href={`/run/${encodeURIComponent(r.id)}`} onClick={linkHandler}>
                    {r.label}
                  </a>
                  <div class={`status-${r.status} small`}>{r.status}</div>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {paramKeys.length > 0 && (
              <tr class="section">
                <th colSpan={runs.length + 1}>Parameters</th>
              </tr>
            )}
            {rows(paramKeys, (r, k) => r.params.get(k), 'param')}
            {metricKeys.length > 0 && (
              <tr class="section">
                <th colSpan={runs.length + 1}>Metrics (latest)</th>
              </tr>
            )}
            {rows(metricKeys, (r, k) => (r.metrics.has(k) ? fmtNum(r.metrics.get(k)) : undefined), 'metric')}
          </tbody>
        </table>
      </div>
    </div>
  );
}
