import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './chart-style.css';
import { fmtNum, fmtTick } from './chart-colors.js';
import type { Trial } from './sweep-api.js';
import { bestSoFar, trialValue } from './sweep-model.js';
import { clamp, inlierBounds } from './sweep-scale.js';
import { useWidth } from './use-width.js';

const H = 260;

/**
 * The objective per trial number as points (completed trials filled; stopped ones and running ones, at
 * their latest value, hollow) and the running best of the completed trials as a stepped line: the lowest
 * so far when minimizing, the highest when maximizing. NaN values are left out (they never rank).
 */
export function BestSoFar(props: { trials: Trial[]; goal: 'minimize' | 'maximize'; metric: string }) {
  const { trials, goal, metric } = props;
  const el = useRef<HTMLDivElement>(null);
  const width = useWidth(el);
  const [logY, setLogY] = useState(false);
  const best = useMemo(() => bestSoFar(trials, goal), [trials, goal]);
  const others = useMemo(() => trials.filter((t) => (t.status === 'RUNNING' || t.status === 'STOPPED') && trialValue(t) !== null), [trials]);
  const canLog = best.values.every((v) => v > 0) && others.every((t) => trialValue(t)! > 0);
  const log = logY && canLog;

  const { data, off } = useMemo(() => {
    const xs = [...new Set([...best.numbers, ...others.map((t) => t.number)])].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    // Wild values (a diverged trial, ±Infinity) do not set the scale: they sit on the edge they are past,
    // as hollow red points, and the best-so-far line runs along that edge while one of them is the best.
    const all = [...best.values, ...others.map((t) => trialValue(t)!)];
    const to = log ? Math.log10 : (v: number) => v;
    const bounds = inlierBounds(all.map(to)) ?? [0, 1];
    const wild = (v: number) => to(v) < bounds[0] || to(v) > bounds[1];
    // A little beyond the last value in scale, so an off-scale point never sits on a real one.
    const pad = (bounds[1] - bounds[0]) * 0.08 || Math.abs(bounds[0]) * 0.1 || 1;
    const edges: [number, number] = [bounds[0] - pad, bounds[1] + pad];
    const fit = (v: number) => (wild(v) ? (log ? 10 ** clamp(to(v), edges) : clamp(v, edges)) : v);
    const done: (number | null)[] = xs.map(() => null);
    const live = done.slice();
    const stopped = done.slice();
    const outside = done.slice();
    const line = done.slice();
    best.numbers.forEach((n, i) => {
      const v = best.values[i];
      (wild(v) ? outside : done)[at.get(n)!] = fit(v);
      line[at.get(n)!] = fit(best.best[i]);
    });
    for (const t of others) {
      const v = trialValue(t)!;
      (wild(v) ? outside : t.status === 'RUNNING' ? live : stopped)[at.get(t.number)!] = fit(v);
    }
    return { data: [xs, done, live, stopped, outside, line] as uPlot.AlignedData, off: all.filter(wild).length };
  }, [best, others, log]);

  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!width || !el.current || data[0].length === 0) return;
    const u = new uPlot(
      {
        width,
        height: H,
        legend: { show: false },
        // Half a trial of room at both ends, so the first and last points are not cut in half.
        scales: { x: { time: false, range: (_u, lo, hi) => [lo - 0.5, hi + 0.5] }, y: { distr: log ? 3 : 1, log: 10 } },
        axes: [
          { stroke: '#6b7385', grid: { stroke: '#eef0f3' }, label: 'trial', labelSize: 18, values: (_u, s) => s.map((v) => (Number.isInteger(v) ? String(v) : '')) },
          { stroke: '#6b7385', grid: { stroke: '#eef0f3' }, size: 60, values: (_u, s) => s.map((v) => (v === null ? '' : fmtTick(v))) },
        ],
        series: [
          {},
          { label: metric, stroke: '#2f6fdb', width: 0, paths: () => null, points: { show: true, size: 7, fill: '#2f6fdb', stroke: '#2f6fdb' } },
          { label: 'running', stroke: '#9aa3b2', width: 0, paths: () => null, points: { show: true, size: 7, fill: '#fff', stroke: '#9aa3b2' } },
          { label: 'stopped', stroke: '#f0a202', width: 0, paths: () => null, points: { show: true, size: 7, fill: '#fff', stroke: '#f0a202' } },
          { label: 'off scale', stroke: '#e4572e', width: 0, paths: () => null, points: { show: true, size: 9, width: 2, fill: '#fff', stroke: '#e4572e' } },
          { label: 'best so far', stroke: '#e4572e', width: 2, spanGaps: true, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
        ],
        cursor: { drag: { x: false, y: false } },
      },
      data,
      el.current,
    );
    plot.current = u;
    return () => {
      u.destroy();
      plot.current = null;
    };
  }, [width, log, data[0].length === 0]);
  useEffect(() => plot.current?.setData(data), [data]);

  const last = best.best.length ? best.best[best.best.length - 1] : null;
  const at = last === null ? null : best.numbers[best.values.indexOf(last)];
  return (
    <div class="mchart sweep-best" data-best={best.best.join(',')} data-values={best.values.join(',')} data-numbers={best.numbers.join(',')} data-logy={log ? '1' : '0'} data-off-scale={off}>
      <div class="mchart-head">
        <span>
          {metric} per trial, best so far ({goal === 'minimize' ? 'lowest' : 'highest'})
        </span>
        <label class="muted">
          <input type="checkbox" name="best-logy" checked={log} disabled={!canLog} onChange={(e) => setLogY((e.currentTarget as HTMLInputElement).checked)} /> log y
        </label>
      </div>
      {data[0].length === 0 && <div class="mchart-empty" style={{ height: `${H}px` }}>no trial has a value yet</div>}
      <div ref={el} class="mchart-plot" />
      <div class="mchart-legend">
        <span class="item"><span class="sw dot" style={{ background: '#2f6fdb' }} /> completed</span>
        {others.some((t) => t.status === 'STOPPED') && <span class="item"><span class="sw dot ring" style={{ borderColor: '#f0a202' }} /> stopped early</span>}
        {others.some((t) => t.status === 'RUNNING') && <span class="item"><span class="sw dot ring" /> running (latest value)</span>}
        {off > 0 && <span class="item" data-testid="off-scale"><span class="sw dot ring" style={{ borderColor: '#e4572e' }} /> {off} off scale, on the edge</span>}
        <span class="item"><span class="sw" style={{ background: '#e4572e' }} /> best so far <span class="val" data-testid="best-value">{fmtNum(last)}</span>{at !== null && <span class="val">(trial #{at})</span>}</span>
      </div>
    </div>
  );
}
