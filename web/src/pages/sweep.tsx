import { useEffect, useState } from 'preact/hooks';
import { getImportance, getSweep, getTrials, type Importance, type Sweep, type Trial } from '../components/sweep-api.js';
import { BestSoFar } from '../components/sweep-best.js';
import { SweepHeader } from '../components/sweep-header.js';
import { ImportanceBars } from '../components/sweep-importance.js';
import { searchedParams } from '../components/sweep-model.js';
import { SweepParallel } from '../components/sweep-pcoords.js';
import { TrialsTable } from '../components/sweep-trials.js';
import { WorkersTable } from '../components/sweep-workers.js';
import '../runs.css';
import '../sweep.css';

const POLL_MS = 3000;

/** Sweep and trials, re-read every 3 s while the sweep is RUNNING (a hidden tab waits). */
function useSweep(id: string): { sweep: Sweep | null; trials: Trial[]; error: string | null; set(s: Sweep): void } {
  const [state, setState] = useState<{ sweep: Sweep | null; trials: Trial[]; error: string | null }>({ sweep: null, trials: [], error: null });
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastStatus = '';
    let lastSeen = '';
    const load = async () => {
      if (document.hidden) {
        timer = setTimeout(load, POLL_MS);
        return;
      }
      try {
        const [sweep, trials] = await Promise.all([getSweep(id), getTrials(id)]);
        if (!live) return;
        // An unchanged poll leaves the state alone: no re-render of the table, charts and axes.
        const seen = JSON.stringify([sweep, trials]);
        if (seen !== lastSeen) setState({ sweep, trials, error: null });
        lastSeen = seen;
        lastStatus = sweep.status;
        if (sweep.status === 'RUNNING') timer = setTimeout(load, POLL_MS);
      } catch (e) {
        if (!live) return;
        setState((s) => ({ ...s, error: (e as Error).message }));
        lastSeen = '';
        // A network blip should not end the live view of a sweep already shown.
        if (lastStatus === 'RUNNING') timer = setTimeout(load, POLL_MS * 2);
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id, reload]);
  const set = (s: Sweep) => {
    setState((o) => ({ ...o, sweep: s }));
    setReload((n) => n + 1);
  };
  return { ...state, set };
}

/** Importance is re-read only when another trial finished (it ranks the finished ones). */
function useImportance(id: string, finished: number | null): { importance: Importance[] | null; error: string | null } {
  const [state, setState] = useState<{ importance: Importance[] | null; error: string | null }>({ importance: null, error: null });
  useEffect(() => {
    if (finished === null) return;
    let live = true;
    getImportance(id).then(
      (importance) => live && setState({ importance, error: null }),
      (e: Error) => live && setState({ importance: null, error: e.message }),
    );
    return () => void (live = false);
  }, [id, finished]);
  return state;
}

/** /sweeps/<id>?sort=<column>: a sweep's progress, trials, best-so-far, parameter space and workers. */
export function SweepPage({ sweepId, query }: { sweepId: string; query: URLSearchParams }) {
  const { sweep, trials, error, set } = useSweep(sweepId);
  const imp = useImportance(sweepId, sweep ? sweep.counts.completed + sweep.counts.stopped : null);
  if (!sweep) return error ? <div class="card error">{error}</div> : <div class="muted">Loading sweep {sweepId}…</div>;
  const params = searchedParams(sweep.config);
  const { name: metric, goal } = sweep.config.metric;
  return (
    <div class="sweep-page" data-sweep-id={sweep.sweep_id} data-status={sweep.status}>
      <SweepHeader sweep={sweep} total={trials.length} live={sweep.status === 'RUNNING'} onChange={set} />
      {error && <div class="card error">{error}</div>}
      <div class="sweep-grid">
        <BestSoFar trials={trials} goal={goal} metric={metric} />
        <div class="card">
          <h2>Parameter importance</h2>
          <ImportanceBars importance={imp.importance} error={imp.error} params={params} />
          <h2>Workers</h2>
          <WorkersTable trials={trials} />
        </div>
      </div>
      <h2>Trials</h2>
      <TrialsTable trials={trials} params={params} sweepName={sweep.name} sort={query.get('sort') ?? ''} bestRun={sweep.best_trial?.run_id} />
      <h2>Parameters and {metric}</h2>
      <div class="card">
        <SweepParallel config={sweep.config} trials={trials} />
      </div>
    </div>
  );
}
