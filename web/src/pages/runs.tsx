import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, mlflow, type Experiment, type Run } from '../api.js';
import { linkHandler, navigate, setQuery } from '../router.js';
import { ColumnChooser } from '../components/column-chooser.js';
import { FilterBox } from '../components/filter-box.js';
import { DatasetFilter, withDatasetFilter } from '../components/dataset-filter.js';
import { SweepLinks } from '../components/sweep-links.js';
import { PermissionsDialog } from '../components/permissions-dialog.js';
import { useAccess } from '../session.js';
import { VirtualTable, type VColumn } from '../components/virtual-table.js';
import { BASE_COLUMNS, BASE_LABELS, cellValue, collectKeys, defaultColumns, foldRows, formatCell, hasNewKeys, serverOrder, sortRows, toCsv, toRow, type Row } from '../components/runs-model.js';
import '../runs.css';

const FIRST_PAGE = 100;
const PAGE = 2500;
const VIEWS: Record<string, string> = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };

const list = (s: string | null) => (s ? s.split(',').filter(Boolean).map(decodeURIComponent) : []);
const unlist = (xs: string[]) => xs.map(encodeURIComponent).join(',');

interface Loaded {
  rows: Row[];
  done: boolean;
  error: string | null;
  /** Bumped whenever the set of param/metric/tag keys may have changed (a page arrived, a run got a new key). */
  keysRev: number;
}

/**
 * A view of many experiments (all of a team's, hundreds) names the first few in its title and looks
 * for sweeps in the first MAX_SWEEP_EXPERIMENTS (as the dataset filter does), instead of two requests
 * per experiment before the table's first screen: 400 of them for 200 experiments.
 */
const TITLE_NAMES = 5;
const MAX_SWEEP_EXPERIMENTS = 20;

const POLL_MS = 3000;
const LIVE_CHUNK = 500;

/**
 * Fetches runs/search page by page, publishing each page as it arrives (the first page is small).
 * Once loaded, while any loaded run is RUNNING, re-reads those runs every 3 s (one runs/search with
 * `attributes.run_id IN (...)`) and swaps them into the same rows in place: the table keeps its order,
 * scroll position and selection while status, duration and latest metric values update. A polled run
 * stays shown even if it no longer matches the filter (rows do not vanish under the user's cursor).
 */
function useRuns(experiments: string[], filter: string, orderBy: string | null, view: string, reload: number): Loaded & { running: number } {
  const [state, setState] = useState<Loaded>({ rows: [], done: false, error: null, keysRev: 0 });
  useEffect(() => {
    let live = true;
    setState((s) => ({ rows: [], done: false, error: null, keysRev: s.keysRev + 1 }));
    (async () => {
      const rows: Row[] = [];
      let token: string | undefined;
      let size = FIRST_PAGE;
      try {
        do {
          const page = await mlflow<{ runs?: Run[]; next_page_token?: string }>('POST', 'runs/search', {
            experiment_ids: experiments,
            filter: filter || undefined,
            order_by: orderBy ? [orderBy] : [],
            run_view_type: VIEWS[view] ?? 'ACTIVE_ONLY',
            max_results: size,
            page_token: token,
          });
          if (!live) return;
          for (const r of page.runs ?? []) rows.push(toRow(r));
          token = page.next_page_token;
          size = PAGE;
          const done = !token;
          setState((s) => ({ rows: [...rows], done, error: null, keysRev: s.keysRev + 1 }));
        } while (token && live);
      } catch (e) {
        if (live) setState((s) => ({ rows, done: true, error: e instanceof ApiError ? e.message : String(e), keysRev: s.keysRev + 1 }));
      }
    })();
    return () => void (live = false);
  }, [experiments.join(','), filter, orderBy, view, reload]);

  // Live: the ids of the loaded runs that are RUNNING; polling stops when none is (or the page is left).
  const runningKey = useMemo(() => (state.done ? state.rows.filter((r) => r.run.info.status === 'RUNNING').map((r) => r.id).join(',') : ''), [state.rows, state.done]);
  useEffect(() => {
    if (!runningKey) return;
    const ids = runningKey.split(',');
    const experimentIds = [...new Set(state.rows.filter((r) => r.run.info.status === 'RUNNING').map((r) => r.run.info.experiment_id))];
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      if (document.hidden) {
        timer = setTimeout(() => void poll(), POLL_MS);
        return;
      }
      try {
        const fresh = new Map<string, Row>();
        for (let i = 0; i < ids.length; i += LIVE_CHUNK) {
          const chunk = ids.slice(i, i + LIVE_CHUNK);
          const page = await mlflow<{ runs?: Run[] }>('POST', 'runs/search', {
            experiment_ids: experimentIds,
            filter: `attributes.run_id IN (${chunk.map((id) => `'${id}'`).join(', ')})`,
            run_view_type: 'ALL',
            max_results: chunk.length,
          });
          if (!live) return;
          const seen = Date.now();
          for (const r of page.runs ?? []) fresh.set(r.info.run_id, toRow(r, seen));
        }
        setState((s) => {
          if (!s.done) return s;
          let newKeys = false;
          const rows = s.rows.map((r) => {
            const n = fresh.get(r.id);
            if (!n) return r;
            if (hasNewKeys(r, n)) newKeys = true;
            return n;
          });
          return { ...s, rows, keysRev: newKeys ? s.keysRev + 1 : s.keysRev };
        });
        timer = setTimeout(() => void poll(), POLL_MS);
      } catch {
        // A network blip should not end live updates: try again, a little later.
        if (live) timer = setTimeout(() => void poll(), POLL_MS * 2);
      }
    };
    timer = setTimeout(() => void poll(), POLL_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [runningKey]);
  return { ...state, running: runningKey ? runningKey.split(',').length : 0 };
}

function useExperimentNames(ids: string[]): Record<string, string> {
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    for (const id of ids)
      mlflow<{ experiment: Experiment }>('GET', 'experiments/get', undefined, { experiment_id: id })
        .then((r) => setNames((n) => ({ ...n, [id]: r.experiment.name })))
        .catch(() => undefined);
  }, [ids.join(',')]);
  return names;
}

function download(name: string, text: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function RunsPage({ query }: { query: URLSearchParams }) {
  const experiments = list(query.get('experiments'));
  const filter = query.get('filter') ?? '';
  const view = query.get('view') ?? 'active';
  const sortParam = query.get('sort') ?? '';
  const desc = sortParam.startsWith('-');
  const sortCol = desc ? sortParam.slice(1) : sortParam;
  const order = sortCol ? serverOrder(sortCol, desc) : null;
  const selected = new Set(list(query.get('sel')));
  const [reload, setReload] = useState(0);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [sharing, setSharing] = useState(false);
  const access = useAccess();
  const { rows, done, error, keysRev, running } = useRuns(experiments, filter, order, view, reload);
  const names = useExperimentNames(experiments.slice(0, TITLE_NAMES));

  // Keys are recomputed only when they may have changed, not on every live refresh of a few runs.
  const keys = useMemo(() => collectKeys(rows), [keysRev]);
  const defaults = useMemo(() => defaultColumns(rows, keys), [keys]);
  const picked = query.has('cols') ? list(query.get('cols')) : defaults;
  const sorted = useMemo(() => (sortCol && !order ? sortRows(rows, sortCol, desc) : rows), [rows, sortCol, desc, order]);
  const shown = useMemo(() => foldRows(sorted, open), [sorted, open]);

  const setSel = (ids: Set<string>) => setQuery({ sel: ids.size ? unlist([...ids]) : null });
  const toggleSel = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSel(next);
  };
  const toggleOpen = (id: string) => {
    const next = new Set(open);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  const sortBy = (col: string) => setQuery({ sort: sortCol === col && !desc ? `-${col}` : col });
  const mark = (col: string) => (sortCol === col ? <span class="sort-mark">{desc ? '▼' : '▲'}</span> : null);

  const allShownSelected = shown.length > 0 && shown.every((s) => selected.has(s.row.id));
  const columns: VColumn[] = [
    {
      id: 'check',
      width: 34,
      className: 'check',
      header: <input type="checkbox" aria-label="select all" checked={allShownSelected} onChange={() => setSel(allShownSelected ? new Set() : new Set(shown.map((s) => s.row.id)))} />,
      cell: (i) => <input type="checkbox" aria-label="select run" checked={selected.has(shown[i].row.id)} onChange={() => toggleSel(shown[i].row.id)} />,
    },
    ...BASE_COLUMNS.map((col) => ({
      id: col,
      width: ({ 'attributes.run_name': 230, 'attributes.start_time': 165, 'attributes.user_id': 90 } as Record<string, number>)[col] ?? 96,
      className: col === 'duration' ? 'num' : '',
      header: (
        <span onClick={() => sortBy(col)} data-col={col}>
          {BASE_LABELS[col]}
          {mark(col)}
        </span>
      ),
      cell: (i: number) => {
        const s = shown[i];
        const v = cellValue(s.row, col);
        if (col === 'attributes.run_name')
          return (
            <span style={{ paddingLeft: `${s.depth * 18}px` }}>
              {s.children ? (
                <button class="fold" aria-label="expand" onClick={() => toggleOpen(s.row.id)}>
                  {open.has(s.row.id) ? '▾' : '▸'}
                </button>
              ) : (
                <span class="child-pad" />
              )}
              <a href={`/run/${encodeURIComponent(s.row.id)}`} onClick={linkHandler} class="run-link">
                {String(v)}
              </a>
              {s.children ? <span class="muted"> ({s.children})</span> : null}
            </span>
          );
        if (col === 'attributes.status') return <span class={`status-${v}`}>{v}</span>;
        return formatCell(col, v);
      },
    })),
    ...picked.map((col) => ({
      id: col,
      width: Math.min(240, Math.max(110, 88 + 8 * (col.length - col.indexOf('.')))),
      className: col.startsWith('metrics.') ? 'num' : '',
      header: (
        <span onClick={() => sortBy(col)} data-col={col}>
          <small class={`kind kind-${col.slice(0, col.indexOf('.'))}`}>{col.slice(0, col.indexOf('.') - 1)}</small>
          {col.slice(col.indexOf('.') + 1)}
          {mark(col)}
        </span>
      ),
      cell: (i: number) => formatCell(col, cellValue(shown[i].row, col)),
    })),
  ];

  const act = async (endpoint: 'runs/delete' | 'runs/restore') => {
    setBusy(true);
    try {
      for (const id of selected) await mlflow('POST', endpoint, { run_id: id });
    } finally {
      setBusy(false);
      setQuery({ sel: null });
      setReload((n) => n + 1);
    }
  };
  const more = experiments.length - TITLE_NAMES;
  const title = experiments.slice(0, TITLE_NAMES).map((id) => names[id] ?? id).join(', ') + (more > 0 ? ` and ${more} more` : '');
  const sel = [...selected];
  // Delete / restore only where the caller may write: shown if any experiment in view allows it,
  // enabled when every selected run's experiment does.
  const writable = experiments.length ? experiments.some(access.canEdit) : rows.some((r) => access.canEdit(r.run.info.experiment_id));
  const selWritable = rows.every((r) => !selected.has(r.id) || access.canEdit(r.run.info.experiment_id));
  const single = experiments.length === 1 ? experiments[0] : null;
  return (
    <div class="runs-page">
      <h1>
        <a href="/" onClick={linkHandler}>
          Experiments
        </a>{' '}
        / <span class="exp-title">{title || 'all experiments'}</span>
        {single && access.me.auth_enabled && access.canManage(single) && (
          <button class="head-action" onClick={() => setSharing(true)}>
            Permissions
          </button>
        )}
      </h1>
      {sharing && single && <PermissionsDialog me={access.me} target={{ experiment_id: single }} title={names[single] ?? single} onClose={() => setSharing(false)} />}
      <SweepLinks experiments={experiments.slice(0, MAX_SWEEP_EXPERIMENTS)} />
      <div class="toolbar top-row">
        <FilterBox value={filter} error={error} onApply={(v) => setQuery({ filter: v || null })} />
        <DatasetFilter experiments={experiments} onChoose={(d) => setQuery({ filter: withDatasetFilter(filter, d) })} />
        <ColumnChooser keys={keys} selected={picked} onChange={(cols) => setQuery({ cols: unlist(cols) })} onDefault={() => setQuery({ cols: null })} />
        <select value={view} onChange={(e) => setQuery({ view: (e.target as HTMLSelectElement).value, sel: null })} aria-label="lifecycle">
          <option value="active">active runs</option>
          <option value="deleted">deleted runs</option>
          <option value="all">all runs</option>
        </select>
        <button onClick={() => download('runs.csv', toCsv(['attributes.run_name', ...BASE_COLUMNS.slice(1), ...picked], shown))} disabled={!shown.length}>
          Export CSV
        </button>
      </div>
      <div class="toolbar">
        <button class="primary" disabled={sel.length < 1 || sel.length > 100} onClick={() => navigate(`/compare?runs=${sel.map(encodeURIComponent).join(',')}`)}>
          Compare ({sel.length})
        </button>
        {writable && (
          <>
            <button disabled={!sel.length || busy || !selWritable || view === 'deleted'} onClick={() => act('runs/delete')}>
              Delete
            </button>
            <button disabled={!sel.length || busy || !selWritable || view === 'active'} onClick={() => act('runs/restore')}>
              Restore
            </button>
          </>
        )}
        {sel.length > 0 && <button onClick={() => setSel(new Set())}>Clear selection</button>}
        <span class="runs-meta" data-testid="run-count">
          {rows.length} runs{done ? '' : ' (loading…)'} · {keys.params.length} params · {keys.metrics.length} metrics
        </span>
        {running > 0 && (
          <span class="runs-live" data-testid="runs-live" title={`live: the running runs update every ${POLL_MS / 1000} s`}>
            <span class="live-dot" /> {running} running
          </span>
        )}
      </div>
      <VirtualTable rows={shown.length} columns={columns} frozen={2} rowClass={(i) => `${selected.has(shown[i].row.id) ? 'sel' : ''} ${shown[i].row.run.info.lifecycle_stage === 'deleted' ? 'deleted' : ''}`} />
      {done && !rows.length && !error && <p class="muted">No runs match.</p>}
    </div>
  );
}
