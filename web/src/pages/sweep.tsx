import { useEffect, useRef, useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { getImportance, type Importance } from '../components/sweep-api.js';
import { BestSoFar } from '../components/sweep-best.js';
import { SweepHeader } from '../components/sweep-header.js';
import { ImportanceBars } from '../components/sweep-importance.js';
import { searchedParams } from '../components/sweep-model.js';
import { SweepParallel } from '../components/sweep-pcoords.js';
import { isLive, useSweep } from '../components/sweep-poll.js';
import { TrialsTable } from '../components/sweep-trials.js';
import { WorkersTable } from '../components/sweep-workers.js';
import '../runs.css';
import '../sweep.css';

/** Importance is re-read only when another trial finished (it ranks the finished ones). */
function useImportance(id: string, finished: number | null): { importance: Importance[] | null; error: string | null } {
  const [state, setState] = useState<{ id: string; importance: Importance[] | null; error: string | null }>({ id, importance: null, error: null });
  useEffect(() => {
    if (finished === null) return;
    let live = true;
    getImportance(id).then(
      (importance) => live && setState({ id, importance, error: null }),
      (e: Error) => live && setState({ id, importance: null, error: e.message }),
    );
    return () => void (live = false);
  }, [id, finished]);
  // Another sweep's ranking is never shown under this one.
  return state.id === id ? state : { importance: null, error: null };
}

/** /sweeps/<id>?sort=<column>: a sweep's progress, trials, best-so-far, parameter space and workers. */
export function SweepPage({ sweepId, query }: { sweepId: string; query: URLSearchParams }) {
  const page = useRef<HTMLDivElement>(null);
  const { sweep, trials, error, updates, polls, set, refresh } = useSweep(sweepId, page);
  const imp = useImportance(sweepId, sweep ? sweep.counts.completed + sweep.counts.stopped : null);
  if (!sweep) {
    return (
      <div class="sweep-page" ref={page} data-polls={polls} data-status="">
        {error ? (
          <div class="sweep-head">
            <div class="crumbs">
              <a href="/" onClick={linkHandler}>Experiments</a> / sweep
            </div>
            <h1>Sweep {sweepId}</h1>
            <div class="card error" data-testid="sweep-error">{error}</div>
          </div>
        ) : (
          <div class="muted">Loading sweep {sweepId}…</div>
        )}
      </div>
    );
  }
  const params = searchedParams(sweep.config);
  const { name: metric, goal } = sweep.config.metric;
  return (
    <div class="sweep-page" ref={page} data-sweep-id={sweep.sweep_id} data-status={sweep.status} data-polls={polls} data-updates={updates}>
      <SweepHeader sweep={sweep} total={trials.length} live={isLive(sweep)} onChange={set} onRefresh={refresh} />
      {error && <div class="card error" data-testid="sweep-error">{error}</div>}
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
      <TrialsTable trials={trials} params={params} sweepName={sweep.name} sort={query.get('sort') ?? ''} goal={goal} bestRun={sweep.best_trial?.run_id} />
      <h2>Parameters and {metric}</h2>
      <div class="card">
        <SweepParallel config={sweep.config} trials={trials} />
      </div>
    </div>
  );
}
