import { useMemo, useState } from 'preact/hooks';
import { fmtNum } from './chart-colors.js';
import { ParallelCoords, type Brushes } from './parallel-coords.js';
import type { SweepConfig, Trial } from './sweep-api.js';
import { rampColor, sweepAxes, trialRuns, trialValue } from './sweep-model.js';

/**
 * Parallel coordinates of the searched parameters and the objective, one line per trial, coloured by the
 * objective's rank (best blue, worst orange). log_uniform parameters get a log axis over their declared range,
 * choices a categorical axis in declared order. Brushing an axis highlights the trials inside.
 */
export function SweepParallel(props: { config: SweepConfig; trials: Trial[] }) {
  const { config, trials } = props;
  const [brushes, setBrushes] = useState<Brushes>({});
  const { name, goal } = config.metric;
  // Worst first, so the best trials are drawn last, on top.
  const runs = useMemo(() => {
    const key = (v: number | undefined) => (v === undefined ? -Infinity : goal === 'minimize' ? -v : v);
    return trialRuns(trials, name, goal).sort((a, b) => key(a.metrics.get(name)) - key(b.metrics.get(name)));
  }, [trials, name, goal]);
  const axes = useMemo(() => sweepAxes(config, runs), [config, runs]);
  const vals = trials.map(trialValue).filter((v): v is number => v !== null);
  const [best, worst] = goal === 'minimize' ? [Math.min(...vals), Math.max(...vals)] : [Math.max(...vals), Math.min(...vals)];
  return (
    // Hundreds of overlaid lines would be a black block: thinner and fainter the more trials there are.
    <div class="sweep-pcoords" data-axes={axes.map((a) => a.label).join('|')} style={{ '--pc-alpha': Math.min(0.9, Math.max(0.08, 40 / Math.max(1, runs.length))), '--pc-width': runs.length > 150 ? '1px' : '2px' }}>
      <ParallelCoords runs={runs} axes={axes} brushes={brushes} onBrush={setBrushes} />
      {vals.length > 0 && (
        <div class="ramp-legend muted">
          {name}: best <b>{fmtNum(best)}</b>
          <span class="ramp" style={{ background: `linear-gradient(to right, ${rampColor(0)}, ${rampColor(0.5)}, ${rampColor(1)})` }} />
          worst <b>{fmtNum(worst)}</b> (colour by rank) · grey: no value yet
        </div>
      )}
    </div>
  );
}
