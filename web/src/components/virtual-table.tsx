import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

/**
 * A table virtualized on both axes: fixed row height, fixed column widths, and only the rows and
 * columns inside the viewport (plus a small overscan) are in the DOM. The first `frozen` columns
 * stay put when scrolling sideways (sticky), the header stays put when scrolling down.
 */
export interface VColumn {
  id: string;
  width: number;
  header: ComponentChildren;
  cell: (row: number) => ComponentChildren;
  className?: string;
}

interface Props {
  rows: number;
  rowHeight?: number;
  columns: VColumn[];
  frozen: number;
  rowClass?: (row: number) => string;
  height?: string;
}

const HEADER = 34;

/** The first index whose offset end is past x (offsets are cumulative column starts). */
function firstVisible(starts: number[], widths: number[], x: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] + widths[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function VirtualTable({ rows, rowHeight = 30, columns, frozen, rowClass, height = 'calc(100vh - 190px)' }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, left: 0, w: 1200, h: 700 });
  const measure = () => {
    const el = box.current;
    if (el) setView({ top: el.scrollTop, left: el.scrollLeft, w: el.clientWidth, h: el.clientHeight });
  };
  useLayoutEffect(measure, []);
  useEffect(() => {
    const ro = new ResizeObserver(measure);
    if (box.current) ro.observe(box.current);
    return () => ro.disconnect();
  }, []);

  const fixed = columns.slice(0, frozen);
  const moving = columns.slice(frozen);
  const fixedWidth = fixed.reduce((s, c) => s + c.width, 0);
  const widths = moving.map((c) => c.width);
  const starts: number[] = [];
  let acc = 0;
  for (const w of widths) {
    starts.push(acc);
    acc += w;
  }
  const totalWidth = fixedWidth + acc;

  const first = Math.max(0, Math.floor(view.top / rowHeight) - 4);
  const last = Math.min(rows, Math.ceil((view.top + view.h) / rowHeight) + 4);
  let c0 = 0;
  let c1 = 0;
  if (moving.length) {
    c0 = Math.max(0, firstVisible(starts, widths, view.left) - 1);
    c1 = c0;
    while (c1 < moving.length && starts[c1] < view.left + view.w - fixedWidth) c1++;
    c1 = Math.min(moving.length, c1 + 1);
  }
  const shown = moving.slice(c0, c1);
  const pad = c0 < moving.length ? starts[c0] : 0;

  const line = (cls: string, key: string | number, top: number | null, cells: (c: VColumn) => ComponentChildren, attrs: Record<string, unknown> = {}) => (
    <div key={key} class={cls} style={{ width: `${totalWidth}px`, height: `${top === null ? HEADER : rowHeight}px`, ...(top === null ? {} : { top: `${top}px` }) }} {...attrs}>
      <div class="vt-frozen" style={{ width: `${fixedWidth}px` }}>
        {fixed.map((c) => (
          <div key={c.id} class={`vt-cell ${c.className ?? ''}`} style={{ width: `${c.width}px` }}>
            {cells(c)}
          </div>
        ))}
      </div>
      <div style={{ width: `${pad}px`, flex: 'none' }} />
      {shown.map((c) => (
        <div key={c.id} class={`vt-cell ${c.className ?? ''}`} style={{ width: `${c.width}px` }} title={top === null ? c.id : undefined}>
          {cells(c)}
        </div>
      ))}
    </div>
  );

  const body = [];
  for (let r = first; r < last; r++) {
    body.push(line(`vt-row ${rowClass?.(r) ?? ''}`, r, HEADER + r * rowHeight, (c) => c.cell(r), { 'data-row': r }));
  }
  return (
    <div class="vt" ref={box} onScroll={measure} style={{ height }}>
      <div class="vt-space" style={{ width: `${totalWidth}px`, height: `${HEADER + rows * rowHeight}px` }}>
        {line('vt-head', 'head', null, (c) => c.header)}
        {body}
      </div>
    </div>
  );
}
