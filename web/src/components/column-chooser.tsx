import { useState } from 'preact/hooks';

export interface KeySets {
  params: string[];
  metrics: string[];
  tags: string[];
}

const SHOW_MAX = 300;

/**
 * Picks the params, metrics and tags shown as columns. With thousands of keys the list shows the
 * first matches of the search only; "all matching" adds every match at once.
 */
export function ColumnChooser({ keys, selected, onChange, onDefault }: { keys: KeySets; selected: string[]; onChange: (cols: string[]) => void; onDefault: () => void }) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState('');
  const sel = new Set(selected);
  const needle = q.toLowerCase();
  const groups: [string, string[]][] = (['params', 'metrics', 'tags'] as const).map((g) => [g, keys[g].filter((k) => k.toLowerCase().includes(needle)).map((k) => `${g}.${k}`)]);
  const matches = groups.flatMap(([, ids]) => ids);
  let budget = SHOW_MAX;
  const toggle = (id: string) => onChange(sel.has(id) ? selected.filter((c) => c !== id) : [...selected, id]);
  return (
    <div class="chooser">
      <button onClick={() => setOpen(!open)} aria-expanded={open}>
        Columns ({selected.length}) ▾
      </button>
      {open && (
        <div class="chooser-panel">
          <input type="search" placeholder="search keys" value={q} autoFocus onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
          <div class="toolbar">
            <button onClick={() => onChange([...selected, ...matches.filter((id) => !sel.has(id))])}>add all {matches.length} matching</button>
            <button onClick={() => onChange(selected.filter((id) => !matches.includes(id)))}>remove matching</button>
            <button onClick={onDefault}>default</button>
          </div>
          <div class="chooser-list">
            {groups.map(([g, ids]) => {
              if (!ids.length) return null;
              const show = ids.slice(0, Math.max(0, budget));
              budget -= show.length;
              return (
                <div key={g}>
                  <div class="grp">
                    {g} ({ids.length})
                  </div>
                  {show.map((id) => (
                    <label key={id} title={id}>
                      <input type="checkbox" checked={sel.has(id)} onChange={() => toggle(id)} /> {id.slice(g.length + 1)}
                    </label>
                  ))}
                  {show.length < ids.length && <div class="muted">… {ids.length - show.length} more: refine the search</div>}
                </div>
              );
            })}
          </div>
          <div class="toolbar" style={{ marginTop: '6px' }}>
            <button onClick={() => setOpen(false)}>close</button>
          </div>
        </div>
      )}
    </div>
  );
}
