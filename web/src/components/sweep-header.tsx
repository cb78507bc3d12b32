import { useEffect, useState } from 'preact/hooks';
import { mlflow, type Experiment } from '../api.js';
import { linkHandler } from '../router.js';
import { useAccess } from '../session.js';
import { fmtNum } from './chart-colors.js';
import { sweepAction, type Sweep } from './sweep-api.js';
import { trialValue } from './sweep-model.js';

/**
 * Name, method, status, objective, counts, and the pause / resume / stop buttons. A refused action (the
 * sweep changed meanwhile, e.g. it finished or was stopped elsewhere) shows the server's message and
 * re-reads the sweep, so the buttons match its real status again.
 */
export function SweepHeader(props: { sweep: Sweep; total: number; live: boolean; onChange(s: Sweep): void; onRefresh(): void }) {
  const { sweep, total, live } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [experiment, setExperiment] = useState<string | null>(null);
  const canEdit = useAccess().canEdit(sweep.experiment_id);
  useEffect(() => {
    mlflow<{ experiment: Experiment }>('GET', 'experiments/get', undefined, { experiment_id: sweep.experiment_id }).then(
      (r) => setExperiment(r.experiment.name),
      () => undefined,
    );
  }, [sweep.experiment_id]);
  const c = sweep.config;
  const act = async (action: 'pause' | 'resume' | 'stop') => {
    if (action === 'stop' && !confirm(`Stop sweep “${sweep.name}”? Running trials are told to stop; no new trial is handed out.`)) return;
    setBusy(true);
    try {
      props.onChange(await sweepAction(sweep.sweep_id, action));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
      props.onRefresh();
    } finally {
      setBusy(false);
    }
  };
  // Pause / resume / stop only for who may write to the sweep's experiment.
  const open = canEdit && (sweep.status === 'RUNNING' || sweep.status === 'PAUSED');
  const cap = sweep.grid_size !== undefined && c.method === 'grid' ? `${sweep.grid_size} grid points` : c.run_cap ? `cap ${c.run_cap}` : 'no cap';
  const best = sweep.best_trial;
  const bestValue = best ? trialValue(best) : null;
  return (
    <div class="sweep-head">
      <div class="crumbs">
        <a href="/" onClick={linkHandler}>Experiments</a> /{' '}
        <a href={`/runs?experiments=${encodeURIComponent(sweep.experiment_id)}`} onClick={linkHandler}>{experiment ?? `experiment ${sweep.experiment_id}`}</a> / sweep
      </div>
      <h1>
        <span data-testid="sweep-name">{sweep.name}</span>
        <span class={`sweep-badge sweep-st-${sweep.status}`} data-testid="sweep-status">{sweep.status}</span>
        {live && <span class="live-dot" title="refreshing while the sweep can still change" />}
      </h1>
      <div class="toolbar sweep-facts">
        <span class="pill" data-testid="sweep-method">{c.method}</span>
        <span data-testid="sweep-metric">
          {c.metric.goal} <b>{c.metric.name}</b>
        </span>
        <span class="muted">{cap}</span>
        {c.early_terminate && <span class="muted">early stop: {c.early_terminate.type}</span>}
        <span data-testid="sweep-counts" class="sweep-counts">
          {total} trials · <span class="status-RUNNING">{sweep.counts.running} running</span> · <span class="status-FINISHED">{sweep.counts.completed} completed</span> · {sweep.counts.stopped} stopped ·{' '}
          <span class="status-FAILED">{sweep.counts.failed} failed</span>
        </span>
        {best && (
          <span data-testid="sweep-best">
            best <b>{fmtNum(bestValue)}</b> at{' '}
            <a href={`/run/${encodeURIComponent(best.run_id)}`} onClick={linkHandler}>trial #{best.number}</a>
          </span>
        )}
        <span class="sweep-actions">
          {canEdit && sweep.status === 'RUNNING' && <button name="pause" disabled={busy} onClick={() => act('pause')}>Pause</button>}
          {canEdit && sweep.status === 'PAUSED' && <button name="resume" class="primary" disabled={busy} onClick={() => act('resume')}>Resume</button>}
          {open && <button name="stop" disabled={busy} onClick={() => act('stop')}>Stop</button>}
          {sweep.parent_run_id && <a href={`/run/${encodeURIComponent(sweep.parent_run_id)}`} onClick={linkHandler}>parent run</a>}
        </span>
      </div>
      {error && <div class="card error" data-testid="sweep-action-error">{error}</div>}
    </div>
  );
}
