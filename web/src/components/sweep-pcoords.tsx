import { useMemo, useRef, useState } from 'preact/hooks';
import { fmtNum } from './chart-colors.js';
import { ParallelCoords, type Brushes } from './parallel-coords.js';
import type { SweepConfig, Trial } from './sweep-api.js';
import { sweepAxes } from './sweep-axes.js';
import { rampColor, trialRuns, trialValue } from './sweep-model.js';
import { useWidth } from './use-width.js';

/** ParallelCoords' side padding (parallel-coords.tsx PAD.left + PAD.right), and a glyph of its 12 px bold labels, a little wide. */
const SIDES = 110;
const CHAR_PX = 8;

/** The name cut in the middle to n characters, keeping how it starts and how it ends. */
export function shorten(s: string, n: number): string {
  if (s.length <= n) return s;
  const head = Math.ceil((n - 1) / 2);
  return `${s.slice(0, head)}…${s.slice(s.length - (n - 1 - head))}`;
}

/**
 * Parallel coordinates of the searched parameters and the objective, one line per trial, coloured by the
 * objective's rank (best blue, worst orange). log_uniform parameters get a log axis over their declared range,
 * int and q parameters ticks on the values they can take, choices a categorical axis in declared order.
 * Brushing an axis highlights the trials inside.
 */
export function SweepParallel(props: { config: SweepConfig; trials: Trial[] }) {
  const { config, trials } = props;
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box, 800);
  const [brushes, setBrushes] = useState<Brushes>({});
  const { name, goal } = config.metric;
  // Worst first, so the best trials are drawn last, on top.
  const runs = useMemo(() => {
    const key = (v: number | undefined) => (v === undefined ? -Infinity : goal === 'minimize' ? -v : v);
    return trialRuns(trials, name, goal).sort((a, b) => key(a.metrics.get(name)) - key(b.metrics.get(name)) || 0);
  }, [trials, name, goal]);
  const axes = useMemo(() => sweepAxes(config, runs), [config, runs]);
  // A long parameter name would run over its neighbours' names: each gets the room between two axes.
  const room = Math.max(6, Math.floor(((width - SIDES) / Math.max(1, axes.length - 1) - 12) / CHAR_PX));
  const shown = useMemo(() => axes.map((a) => ({ ...a, label: shorten(a.label, room) })), [axes, room]);
  const vals = trials.map(trialValue).filter((v): v is number => v !== null);
  const [best, worst] = goal === 'minimize' ? [Math.min(...vals), Math.max(...vals)] : [Math.max(...vals), Math.min(...vals)];
  return (
    // Hundreds of overlaid lines would be a black block: thinner and fainter the more trials there are.
    <div ref={box} class="sweep-pcoords" data-axes={axes.map((a) => a.label).join('|')} style={{ '--pc-alpha': Math.min(0.9, Math.max(0.08, 40 / Math.max(1, runs.length))), '--pc-width': runs.length > 150 ? '1px' : '2px' }}>
      <ParallelCoords runs={runs} axes={shown} brushes={brushes} onBrush={setBrushes} />
      {vals.length > 0 && (
        <div class="ramp-legend muted">
          {name}: best <b>{fmtNum(best)}</b>
          <span class="ramp" style={{ background: `linear-gradient(to right, ${rampColor(0)}, ${rampColor(0.5)}, ${rampColor(1)})` }} />
          worst <b>{fmtNum(worst)}</b> (colour by rank, over every trial with a value) · grey: no value (not logged yet, or NaN)
        </div>
      )}
    </div>
  );
}
