import { useEffect, useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { listSweeps, type Sweep } from './sweep-api.js';

/** The sweeps of the shown experiments, as links to their pages; nothing when there are none. */
export function SweepLinks(props: { experiments: string[] }) {
  const key = props.experiments.join(',');
  const [sweeps, setSweeps] = useState<Sweep[]>([]);
  useEffect(() => {
    let live = true;
    Promise.all(props.experiments.map((id) => listSweeps(id).catch(() => [] as Sweep[]))).then((lists) => live && setSweeps(lists.flat()));
    return () => void (live = false);
  }, [key]);
  if (sweeps.length === 0) return null;
  return (
    <div class="toolbar sweep-links" data-testid="sweep-links">
      <span class="muted">Sweeps:</span>
      {sweeps.map((s) => (
        <a key={s.sweep_id} href={`/sweeps/${encodeURIComponent(s.sweep_id)}`} onClick={linkHandler} class="pill" data-sweep-id={s.sweep_id}>
          {s.name} <span class={`sweep-st-${s.status}`}>{s.status.toLowerCase()}</span>
        </a>
      ))}
    </div>
  );
}
