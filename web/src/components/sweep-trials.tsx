import { useMemo } from 'preact/hooks';
import { linkHandler, setQuery } from '../router.js';
import type { Scalar, Trial } from './sweep-api.js';
import { fmtParam, fmtValue, trialValue } from './sweep-model.js';
import { VirtualTable, type VColumn } from './virtual-table.js';

type Key = Scalar | null | undefined;

function sortKey(t: Trial, col: string): Key {
  if (col === 'value') return trialValue(t);
  if (col.startsWith('params.')) return t.params[col.slice(7)];
  return (t as unknown as Record<string, Key>)[col];
}

/** Missing values sort last in both directions; numbers numerically, anything else as text. */
function compare(a: Key, b: Key, desc: boolean): number {
  const ma = a === null || a === undefined;
  const mb = b === null || b === undefined;
  if (ma || mb) return ma === mb ? 0 : ma ? 1 : -1;
  const c = typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true });
  return desc ? -c : c;
}

const ROW = 30;

/**
 * Every trial: number, status, its parameters, objective value and step, worker, and a link to its run.
 * Virtualized (a sweep may hand out thousands of trials); a click on a header sorts by that column, the
 * sort lives in the URL (`sort=value`, `sort=-value`). The first click on the value sorts the best first
 * (highest first when maximizing), the next one reverses.
 */
export function TrialsTable(props: { trials: Trial[]; params: string[]; sweepName: string; sort: string; goal: 'minimize' | 'maximize'; bestRun?: string }) {
  const { trials, params, sort, sweepName } = props;
  const desc = sort.startsWith('-');
  const col = (desc ? sort.slice(1) : sort) || 'number';
  const rows = useMemo(() => [...trials].sort((a, b) => compare(sortKey(a, col), sortKey(b, col), desc) || a.number - b.number), [trials, col, desc]);

  const bestFirst = (id: string) => (id === 'value' && props.goal === 'maximize' ? `-${id}` : id);
  const head = (id: string, label: string) => (
    <span data-col={id} title={label} onClick={() => setQuery({ sort: col !== id ? bestFirst(id) : desc ? id : `-${id}` })}>
      {label}
      {col === id && <span class="sort-mark">{desc ? '▼' : '▲'}</span>}
    </span>
  );
  const columns: VColumn[] = [
    { id: 'number', width: 60, className: 'num', header: head('number', '#'), cell: (i) => rows[i].number },
    { id: 'status', width: 104, header: head('status', 'status'), cell: (i) => <span class={`trial-${rows[i].status}`} title={rows[i].stop_reason}>{rows[i].status}</span> },
    ...params.map((p) => ({ id: `params.${p}`, width: Math.min(180, Math.max(90, 48 + 8 * p.length)), className: 'num', header: head(`params.${p}`, p), cell: (i: number) => <span title={String(rows[i].params[p] ?? '')}>{fmtParam(rows[i].params[p])}</span> })),
    { id: 'value', width: 110, className: 'num value', header: head('value', 'value'), cell: (i) => fmtValue(rows[i]) },
    { id: 'step', width: 70, className: 'num', header: head('step', 'step'), cell: (i) => rows[i].step ?? '–' },
    { id: 'worker', width: 130, header: head('worker', 'worker'), cell: (i) => rows[i].worker || <span class="muted">–</span> },
    {
      id: 'run',
      width: 200,
      header: 'run',
      cell: (i) => (
        <a href={`/run/${encodeURIComponent(rows[i].run_id)}`} onClick={linkHandler} class="run-link">
          {sweepName}-{rows[i].number}
        </a>
      ),
    },
  ];
  const height = `${34 + Math.min(Math.max(rows.length, 1), 15) * ROW + 2}px`;
  return (
    <div class="sweep-trials" data-rows={rows.length} data-sort={col} data-desc={desc ? '1' : '0'}>
      <VirtualTable rows={rows.length} rowHeight={ROW} columns={columns} frozen={2} height={height} rowClass={(i) => (rows[i].run_id === props.bestRun ? 'best' : '')} />
      {rows.length === 0 && <p class="muted">No trials yet: start a worker (sweep.agent in the SDK, or any HTTP client calling /next).</p>}
    </div>
  );
}
