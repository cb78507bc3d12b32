import { useRef } from 'preact/hooks';
import type { Axis, CRun } from './compare-model.js';
import { useWidth } from './use-width.js';

const H = 280;
const PAD = { top: 14, bottom: 40, left: 70, right: 20 };

/** A scatter of one axis (a param) against another (a metric), one dot per run; dimmed runs are filtered out. */
export function Scatter(props: { runs: CRun[]; x: Axis | null; y: Axis | null; highlight: Set<string> | null }) {
  const { runs, x, y, highlight } = props;
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap, 600);
  if (!x || !y) return <div ref={wrap} class="muted">Pick a param and a metric.</div>;
  const iw = width - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const px = (p: number) => PAD.left + p * iw;
  const py = (p: number) => PAD.top + (1 - p) * ih;
  const pts = runs.map((r) => ({ r, a: x.pos(r), b: y.pos(r) })).filter((p) => p.a !== null && p.b !== null) as { r: CRun; a: number; b: number }[];
  return (
    <div ref={wrap} class="scatter" data-points={pts.length}>
      <svg width={width} height={H} style={{ display: 'block' }}>
        <rect x={PAD.left} y={PAD.top} width={iw} height={ih} fill="#fafbfc" stroke="#e3e6ec" />
        {x.ticks.slice(0, 12).map((t) => (
          <g>
            <line x1={px(t.at)} x2={px(t.at)} y1={PAD.top} y2={PAD.top + ih} stroke="#eef0f3" />
            <text x={px(t.at)} y={PAD.top + ih + 14} text-anchor="middle" font-size="10" fill="#6b7385">{t.text.length > 12 ? t.text.slice(0, 11) + '…' : t.text}</text>
          </g>
        ))}
        {y.ticks.slice(0, 12).map((t) => (
          <g>
            <line x1={PAD.left} x2={PAD.left + iw} y1={py(t.at)} y2={py(t.at)} stroke="#eef0f3" />
            <text x={PAD.left - 6} y={py(t.at) + 4} text-anchor="end" font-size="10" fill="#6b7385">{t.text}</text>
          </g>
        ))}
        <text x={PAD.left + iw / 2} y={H - 6} text-anchor="middle" font-size="12" font-weight="600">{x.label}</text>
        <text transform={`translate(14 ${PAD.top + ih / 2}) rotate(-90)`} text-anchor="middle" font-size="12" font-weight="600">{y.label}</text>
        {pts.map(({ r, a, b }) => {
          const on = !highlight || highlight.has(r.id);
          return (
            <circle key={r.id} cx={px(a * 0.96 + 0.02)} cy={py(b * 0.94 + 0.03)} r={on ? 6 : 4} fill={on ? r.color : '#c9ced8'} fill-opacity={on ? 0.85 : 0.6} stroke="#fff" data-run-id={r.id}>
              <title>{`${r.label}\n${x.key} = ${x.value(r)}\n${y.key} = ${y.value(r)}`}</title>
            </circle>
          );
        })}
      </svg>
    </div>
  );
}
