import { useRef, useState } from 'preact/hooks';
import type { Axis, CRun } from './compare-model.js';
import { useWidth } from './use-width.js';

/** A brush on an axis: the band [lo, hi] of its 0 (bottom) .. 1 (top) range. */
export type Brushes = Record<string, [number, number]>;

export function brushed(runs: CRun[], axes: Axis[], brushes: Brushes): Set<string> {
  const out = new Set<string>();
  for (const r of runs) {
    let ok = true;
    for (const a of axes) {
      const b = brushes[a.key + '|' + a.kind];
      if (!b) continue;
      const p = a.pos(r);
      if (p === null || p < b[0] - 1e-9 || p > b[1] + 1e-9) ok = false;
    }
    if (ok) out.add(r.id);
  }
  return out;
}

const H = 300;
const PAD = { top: 28, bottom: 22, left: 50, right: 60 };

/**
 * Parallel coordinates (plain SVG): one vertical axis per param and the chosen metric, one polyline per
 * run. Dragging along an axis brushes a range; runs outside every brush are dimmed. Click an axis
 * without dragging to clear its brush.
 */
export function ParallelCoords(props: { runs: CRun[]; axes: Axis[]; brushes: Brushes; onBrush(b: Brushes): void }) {
  const { runs, axes, brushes } = props;
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap, 800);
  const [drag, setDrag] = useState<{ key: string; y0: number; y1: number } | null>(null);
  if (axes.length < 2) return <div ref={wrap} class="muted">Parallel coordinates need at least two axes (params that differ, and a metric).</div>;

  const innerH = H - PAD.top - PAD.bottom;
  const xAt = (i: number) => PAD.left + (i * (width - PAD.left - PAD.right)) / (axes.length - 1);
  const yAt = (p: number) => PAD.top + (1 - p) * innerH;
  // Within 4 px of an end of the axis counts as the end, so a drag from the top includes the top value.
  const snap = 4 / innerH;
  const frac = (y: number) => {
    const f = Math.min(1, Math.max(0, 1 - (y - PAD.top) / innerH));
    return f > 1 - snap ? 1 : f < snap ? 0 : f;
  };
  const current = { ...brushes };
  if (drag) {
    const lo = Math.min(frac(drag.y0), frac(drag.y1));
    const hi = Math.max(frac(drag.y0), frac(drag.y1));
    if (hi - lo > 0.005) current[drag.key] = [lo, hi];
  }
  const matching = brushed(runs, axes, current);
  const active = Object.keys(current).length > 0;

  const start = (key: string, e: PointerEvent) => {
    const svg = (e.currentTarget as SVGElement).ownerSVGElement!;
    const top = svg.getBoundingClientRect().top;
    const y0 = e.clientY - top;
    let last = y0;
    setDrag({ key, y0, y1: y0 });
    const move = (ev: PointerEvent) => {
      last = ev.clientY - top;
      setDrag({ key, y0, y1: last });
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      setDrag(null);
      const lo = Math.min(frac(y0), frac(last));
      const hi = Math.max(frac(y0), frac(last));
      const next = { ...brushes };
      if (hi - lo > 0.005) next[key] = [lo, hi];
      else delete next[key];
      props.onBrush(next);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
    e.preventDefault();
  };

  const line = (r: CRun) => {
    const pts: string[] = [];
    const segs: string[] = [];
    axes.forEach((a, i) => {
      const p = a.pos(r);
      if (p === null) {
        if (pts.length) segs.push(pts.splice(0).join(' '));
        return;
      }
      pts.push(`${pts.length ? 'L' : 'M'}${xAt(i).toFixed(1)},${yAt(p).toFixed(1)}`);
    });
    if (pts.length) segs.push(pts.join(' '));
    return segs.join(' ');
  };
  const ordered = [...runs].sort((a, b) => Number(matching.has(a.id)) - Number(matching.has(b.id)));

  return (
    <div ref={wrap} class="pcoords" data-matching={matching.size} data-brushed={active ? '1' : '0'}>
      <svg width={width} height={H} style={{ display: 'block', userSelect: 'none' }}>
        {ordered.map((r) => {
          const on = !active || matching.has(r.id);
          return <path key={r.id} d={line(r)} fill="none" stroke={on ? r.color : '#c9ced8'} stroke-width={on ? 2 : 1} stroke-opacity={on ? 0.9 : 0.5} data-run-id={r.id} class={on ? 'pc-run on' : 'pc-run off'}><title>{r.label}</title></path>;
        })}
        {axes.map((a, i) => {
          const b = current[a.key + '|' + a.kind];
          const x = xAt(i);
          return (
            <g key={a.key + a.kind} class="pc-axis" data-axis={a.key}>
              <line x1={x} x2={x} y1={PAD.top} y2={PAD.top + innerH} stroke="#6b7385" />
              {a.ticks.slice(0, 12).map((t) => (
                <text x={x - 5} y={yAt(t.at) + 4} text-anchor="end" font-size="10" fill="#6b7385" stroke="#fff" stroke-width="3" paint-order="stroke">{t.text.length > 14 ? t.text.slice(0, 13) + '…' : t.text}</text>
              ))}
              <text x={x} y={PAD.top - 10} text-anchor="middle" font-size="12" font-weight="600" fill={a.kind === 'metric' ? '#2f6fdb' : '#1d2330'}>
                <title>{a.key}</title>
                {a.label}
              </text>
              {b && <rect x={x - 8} y={yAt(b[1])} width={16} height={Math.max(1, (b[1] - b[0]) * innerH)} fill="rgba(47,111,219,.18)" stroke="#2f6fdb" class="pc-brush" />}
              <rect x={x - 14} y={PAD.top} width={28} height={innerH} fill="transparent" style={{ cursor: 'ns-resize' }} class="pc-hit" onPointerDown={(e) => start(a.key + '|' + a.kind, e as unknown as PointerEvent)} />
            </g>
          );
        })}
      </svg>
      <div class="pc-matching">
        {active ? (
          <>
            <b>{matching.size}</b> of {runs.length} runs match{' '}
            <a href="#" onClick={(e) => (e.preventDefault(), props.onBrush({}))}>clear brushes</a>:{' '}
            {runs.filter((r) => matching.has(r.id)).map((r) => <span class="pc-chip" key={r.id} style={{ borderColor: r.color }} data-run-id={r.id}>{r.label}</span>)}
          </>
        ) : (
          <span class="muted">Drag along an axis to filter runs.</span>
        )}
      </div>
    </div>
  );
}
