import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './chart-style.css';
import { lablog, num, type Run, type SampledSeries } from '../api.js';
import { ema } from '../smoothing.js';
import { fmtNum, fmtTick } from './chart-colors.js';
import { clamp, inlierBounds } from './sweep-scale.js';
import { useWidth } from './use-width.js';

/** The tags the SDK's lrRangeTest sets (client-sdk/src/lr-range-test.ts, LR_RANGE_TAGS). */
const TAGS = {
  steepest: 'lablog.lr_range.steepest',
  minLoss: 'lablog.lr_range.min_loss',
  suggestedMin: 'lablog.lr_range.suggested_min',
  suggestedMax: 'lablog.lr_range.suggested_max',
} as const;
const H = 300;
/** A range test is a few hundred steps: read every point (the sampled read buckets only beyond this). */
const BUCKETS = 5000;

interface Suggestion {
  steepest: number;
  minLoss: number;
  lo: number;
  hi: number;
}

function suggestion(run: Run): Suggestion | null {
  const tag = (k: string) => Number(run.data.tags?.find((t) => t.key === k)?.value ?? NaN);
  const s = { steepest: tag(TAGS.steepest), minLoss: tag(TAGS.minLoss), lo: tag(TAGS.suggestedMin), hi: tag(TAGS.suggestedMax) };
  return Number.isFinite(s.steepest) && Number.isFinite(s.minLoss) ? s : null;
}

/** lr, raw loss and smoothed loss paired by step, in step order, lr > 0 only (the x axis is log). */
async function loadPoints(run: Run): Promise<{ lr: number[]; loss: number[]; smooth: number[] }> {
  const res = await lablog<{ series?: SampledSeries[] }>('metrics/sampled', { run_ids: [run.info.run_id], keys: ['lr', 'loss', 'loss_smoothed'], x: 'step', buckets: BUCKETS });
  const byStep = (key: string) => {
    const s = res.series?.find((q) => q.key === key);
    return new Map(s ? s.last_x.map((x, i) => [x, num(s.last[i])]) : []);
  };
  const lrs = byStep('lr');
  const losses = byStep('loss');
  const logged = byStep('loss_smoothed');
  const steps = [...lrs.keys()].filter((s) => losses.has(s) && lrs.get(s)! > 0).sort((a, b) => a - b);
  const loss = steps.map((s) => losses.get(s)!);
  // Older runs (or runs logged by hand) may lack loss_smoothed: smooth as the test did.
  const beta = Number(run.data.params?.find((p) => p.key === 'lr_range.smoothing')?.value ?? 0.98);
  const smooth = steps.every((s) => logged.has(s)) ? steps.map((s) => logged.get(s)!) : ema(loss, Number.isFinite(beta) ? beta : 0.98);
  return { lr: steps.map((s) => lrs.get(s)!), loss, smooth };
}

/**
 * y from the lowest loss up to a little above the loss before the descent: the divergence is cut off.
 * Wild values (a loss of 1e30, ±1.8e308 for an infinite one, a loss that dives to -1e308) do not set
 * the scale at all. A curve that only rises (its minimum at the first step) is shown whole.
 */
function yRange(loss: number[], smooth: number[]): [number, number] {
  const b = inlierBounds([...loss, ...smooth]);
  if (!b) return [0, 1];
  const ok = (v: number) => v >= b[0] && v <= b[1];
  const all = [...loss, ...smooth].filter(ok);
  const lo = Math.min(...all);
  const max = Math.max(...all);
  let m = -1;
  smooth.forEach((v, i) => ok(v) && (m < 0 || v < smooth[m]) && (m = i));
  const top = Math.max(...smooth.slice(0, m + 1).filter(ok), lo);
  const hi = top > lo ? Math.min(max, lo + (top - lo) * 1.35) : max;
  const pad = Math.abs(lo) * 0.1 || 1;
  return hi > lo ? [lo - (hi - lo) * 0.04, hi] : [lo - pad, lo + pad];
}

/**
 * The values as drawn: NaN is a gap; anything far outside the y range (±Infinity, 1e300) is pulled in
 * to just beyond it, so the line still leaves the plot where the loss blew up, and the canvas is never
 * handed a coordinate it cannot draw.
 */
function drawable(values: number[], [lo, hi]: [number, number]): (number | null)[] {
  const band: [number, number] = [lo - 10 * (hi - lo), hi + 10 * (hi - lo)];
  return values.map((v) => (Number.isNaN(v) ? null : clamp(v, band)));
}

/** Shades the suggested range and draws the marker lines with their labels, over the plot. */
function markers(s: Suggestion) {
  const lines = [
    { x: s.steepest, color: '#17a673', dash: [], text: `steepest ${fmtTick(s.steepest)}` },
    { x: s.minLoss / 10, color: '#9b59b6', dash: [6, 4], text: `min loss/10 ${fmtTick(s.minLoss / 10)}` },
    { x: s.minLoss, color: '#9aa3b2', dash: [2, 3], text: `min loss ${fmtTick(s.minLoss)}` },
  ];
  return (u: uPlot) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    const px = (v: number) => u.valToPos(v, 'x', true);
    ctx.save();
    // A marker outside the tested lr range (min loss / 10 below the first lr) must not paint over the axes.
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    if (Number.isFinite(s.lo) && Number.isFinite(s.hi)) {
      ctx.fillStyle = 'rgba(23, 166, 115, 0.12)';
      ctx.fillRect(px(s.lo), top, Math.max(1, px(s.hi) - px(s.lo)), height);
    }
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    lines.forEach((l, i) => {
      const x = px(l.x);
      ctx.strokeStyle = l.color;
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash(l.dash.map((d) => d * devicePixelRatio));
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.fillStyle = l.color;
      // A marker outside the tested range keeps its label, pinned to the edge it is past; near the right
      // edge a label goes on the line's left, so it is not cut off.
      const gap = 4 * devicePixelRatio;
      const y = top + (14 + 14 * i) * devicePixelRatio;
      if (x < left) {
        ctx.textAlign = 'left';
        ctx.fillText(`← ${l.text}`, left + gap, y);
      } else if (x > left + width) {
        ctx.textAlign = 'right';
        ctx.fillText(`${l.text} →`, left + width - gap, y);
      } else {
        const right = x + gap + ctx.measureText(l.text).width > left + width;
        ctx.textAlign = right ? 'right' : 'left';
        ctx.fillText(l.text, right ? x - gap : x + gap, y);
      }
    });
    ctx.restore();
  };
}

/** The params lrRangeTest logs first, before any step: the run is a range test even without a suggestion. */
const RANGE_PARAM = 'lr_range.min_lr';

function LrRangeChart(props: { run: Run; s: Suggestion | null }) {
  const { run, s } = props;
  const el = useRef<HTMLDivElement>(null);
  const width = useWidth(el);
  const [pts, setPts] = useState<{ lr: number[]; loss: number[]; smooth: number[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [distr, setDistr] = useState<number | null>(null);
  useEffect(() => {
    let live = true;
    loadPoints(run).then((p) => live && setPts(p), (e: Error) => live && setError(e.message));
    return () => void (live = false);
  }, [run.info.run_id, run.info.status]);
  const range = useMemo(() => (pts ? yRange(pts.loss, pts.smooth) : null), [pts]);
  const finite = pts ? pts.loss.filter(Number.isFinite).length : 0;

  useEffect(() => {
    if (!pts || !range || !width || !el.current || finite === 0) return;
    const u = new uPlot(
      {
        width,
        height: H,
        legend: { show: false },
        scales: { x: { time: false, distr: 3, log: 10 }, y: { range: () => range } },
        axes: [
          { stroke: '#6b7385', grid: { stroke: '#eef0f3' }, label: 'learning rate (log)', labelSize: 18, values: (_u, sp) => sp.map((v) => (v !== null && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6 ? fmtTick(v) : '')) },
          { stroke: '#6b7385', grid: { stroke: '#eef0f3' }, size: 56, values: (_u, sp) => sp.map((v) => (v === null ? '' : fmtTick(v))) },
        ],
        series: [{}, { label: 'loss', stroke: 'rgba(47, 111, 219, 0.35)', width: 1 }, { label: 'smoothed', stroke: '#2f6fdb', width: 2.5 }],
        hooks: s ? { draw: [markers(s)] } : {},
        cursor: { drag: { x: false, y: false } },
      },
      [pts.lr, drawable(pts.loss, range), drawable(pts.smooth, range)],
      el.current,
    );
    setDistr(u.scales.x.distr ?? null);
    return () => u.destroy();
  }, [pts, range, width]);

  const marks = s ? { 'data-steepest': s.steepest, 'data-min-loss': s.minLoss, 'data-suggested-min': s.lo, 'data-suggested-max': s.hi } : { 'data-suggestion': 'none' };
  return (
    <div class="mchart lr-range" data-run-id={run.info.run_id} data-points={pts?.lr.length ?? ''} data-finite={pts ? finite : ''} data-x-distr={distr ?? ''} data-y-range={range?.join(',') ?? ''} {...marks}>
      <div class="mchart-head">
        <span>LR range test: {run.info.run_name || run.info.run_id}</span>
        <span class="muted">loss against learning rate (log x)</span>
      </div>
      {error && <div class="error">{error}</div>}
      {pts && finite === 0 && <div class="mchart-empty" style={{ height: `${H}px` }}>{pts.lr.length ? 'the loss was never finite (NaN or infinite from the first step)' : 'no lr and loss logged yet'}</div>}
      <div ref={el} class="mchart-plot" style={{ minHeight: pts && finite === 0 ? 0 : `${H}px` }} />
      <div class="mchart-legend lr-range-facts">
        <span class="item"><span class="sw" style={{ background: 'rgba(47, 111, 219, 0.35)' }} />loss</span>
        <span class="item"><span class="sw" style={{ background: '#2f6fdb' }} />smoothed</span>
        {s ? (
          <>
            <span class="item" data-testid="lr-steepest"><span class="sw" style={{ background: '#17a673' }} /><span>steepest descent at lr <b>{fmtNum(s.steepest)}</b></span></span>
            <span class="item" data-testid="lr-min-loss"><span class="sw" style={{ background: '#9b59b6' }} /><span>min loss at lr <b>{fmtNum(s.minLoss)}</b>, /10 = <b>{fmtNum(s.minLoss / 10)}</b></span></span>
            <span class="item" data-testid="lr-suggested"><span class="sw" style={{ background: 'rgba(23, 166, 115, 0.35)', height: '8px' }} /><span>suggested lr <b>{fmtNum(s.lo)}</b> – <b>{fmtNum(s.hi)}</b></span></span>
          </>
        ) : (
          <span class="item muted" data-testid="lr-no-suggestion">
            {run.info.status === 'RUNNING' ? 'no suggestion yet: the test is still running' : 'no suggestion recorded: the smoothed loss was never finite, or the test stopped before its analysis'}
          </span>
        )}
      </div>
    </div>
  );
}

/**
 * One chart per compared run that ran lrRangeTest: with its suggestion marked when the run carries one,
 * without when it does not (the loss was NaN from the start, or the test is still running); nothing for
 * other runs.
 */
export function LrRangeCharts(props: { runs: Run[] }) {
  const found = props.runs
    .map((run) => ({ run, s: suggestion(run) }))
    .filter(({ run, s }) => s !== null || (run.data.params ?? []).some((p) => p.key === RANGE_PARAM));
  if (found.length === 0) return null;
  return (
    <div class="lr-range-charts" style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(560px, 1fr))', gap: '0 12px' }}>
      {found.map(({ run, s }) => (
        <LrRangeChart key={run.info.run_id} run={run} s={s} />
      ))}
    </div>
  );
}
