import { useEffect, useState } from 'preact/hooks';
import { ApiError, mlflow, type Experiment, type Run } from '../api.js';
import { linkHandler, navigate, setQuery } from '../router.js';
import { loadMe, useAccess } from '../session.js';
import { PermissionsDialog } from '../components/permissions-dialog.js';
import '../runs.css';

const COUNT_PAGE = 1000; // small pages: a count never holds the server long (the page being opened next waits behind it)
const COUNT_CAP = 50_000;

/** Counts the active runs of one experiment by paging runs/search (there is no count endpoint). */
async function countRuns(id: string, live: () => boolean): Promise<string> {
  let n = 0;
  let token: string | undefined;
  do {
    if (!live()) return '';
    const page = await mlflow<{ runs?: Run[]; next_page_token?: string }>('POST', 'runs/search', { experiment_ids: [id], max_results: COUNT_PAGE, page_token: token });
    n += page.runs?.length ?? 0;
    token = page.next_page_token;
  } while (token && n < COUNT_CAP);
  return token ? `${n}+` : String(n);
}

/** Run counts filled in lazily, two experiments at a time, so the list shows at once. */
function useCounts(ids: string[], reload: number): Record<string, string> {
  const [counts, setCounts] = useState<Record<string, string>>({});
  useEffect(() => {
    let live = true;
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && live; id = queue.shift()) {
        const c = await countRuns(id, () => live).catch(() => '?');
        if (live) setCounts((old) => ({ ...old, [id]: c }));
      }
    };
    void Promise.all([worker(), worker()]);
    return () => void (live = false);
  }, [ids.join(','), reload]);
  return counts;
}

const likeEscape = (s: string) => s.replace(/'/g, '_'); // a quote matches as a one-character wildcard
const when = (t?: number) => (t ? new Date(t).toLocaleString() : '');

export function ExperimentsPage({ query }: { query: URLSearchParams }) {
  const q = query.get('q') ?? '';
  const showDeleted = query.get('deleted') === '1';
  const [text, setText] = useState(q);
  const [list, setList] = useState<Experiment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [newName, setNewName] = useState('');
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [sharing, setSharing] = useState<Experiment | null>(null);
  const access = useAccess();

  useEffect(() => {
    let live = true;
    (async () => {
      const out: Experiment[] = [];
      let token: string | undefined;
      do {
        const page = await mlflow<{ experiments?: Experiment[]; next_page_token?: string }>('POST', 'experiments/search', {
          filter: q ? `name ILIKE '%${likeEscape(q)}%'` : undefined,
          view_type: showDeleted ? 'ALL' : 'ACTIVE_ONLY',
          order_by: ['last_update_time DESC'],
          max_results: 1000,
          page_token: token,
        });
        out.push(...(page.experiments ?? []));
        token = page.next_page_token;
      } while (token);
      if (live) setList(out);
    })().catch((e) => live && setError(e instanceof ApiError ? e.message : String(e)));
    return () => void (live = false);
  }, [q, showDeleted, reload]);
  const counts = useCounts((list ?? []).map((e) => e.experiment_id), reload);

  const run = async (work: Promise<unknown>) => {
    setError(null);
    try {
      await work;
      setReload((n) => n + 1);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  // The creator gets MANAGE on the new experiment: re-read `me` so its controls show.
  const create = () =>
    newName.trim() &&
    run(
      mlflow('POST', 'experiments/create', { name: newName.trim() }).then(async () => {
        setNewName('');
        if (access.me.auth_enabled) await loadMe();
      }),
    );
  const rename = () => renaming && run(mlflow('POST', 'experiments/update', { experiment_id: renaming.id, new_name: renaming.name.trim() }).then(() => setRenaming(null)));
  const toggle = (id: string) => {
    const next = new Set(picked);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setPicked(next);
  };

  return (
    <div class="experiments-page">
      <h1>Experiments</h1>
      <div class="toolbar">
        <input
          type="search"
          name="search"
          placeholder="search by name"
          value={text}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setText(v);
            setQuery({ q: v || null });
          }}
        />
        <label>
          <input type="checkbox" name="show-deleted" checked={showDeleted} onChange={() => setQuery({ deleted: showDeleted ? null : '1' })} /> show deleted
        </label>
        <button class="primary" disabled={picked.size === 0} onClick={() => navigate(`/runs?experiments=${[...picked].join(',')}`)}>
          Open runs of {picked.size} selected
        </button>
        <span style={{ marginLeft: 'auto' }} />
        {access.canCreate && (
          <>
            <input name="new-name" placeholder="new experiment name" value={newName} onInput={(e) => setNewName((e.target as HTMLInputElement).value)} onKeyDown={(e) => e.key === 'Enter' && create()} />
            <button onClick={create} disabled={!newName.trim()}>
              Create
            </button>
          </>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <table class="plain experiments">
          <thead>
            <tr>
              <th />
              <th>Name</th>
              <th>ID</th>
              <th>Runs</th>
              <th>Last activity</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((e) => (
              <tr key={e.experiment_id} class={e.lifecycle_stage === 'deleted' ? 'deleted' : ''} data-id={e.experiment_id}>
                <td>
                  <input type="checkbox" aria-label="select experiment" checked={picked.has(e.experiment_id)} onChange={() => toggle(e.experiment_id)} />
                </td>
                <td class="name">
                  {renaming?.id === e.experiment_id ? (
                    <input
                      name="rename"
                      value={renaming.name}
                      autoFocus
                      onInput={(ev) => setRenaming({ id: e.experiment_id, name: (ev.target as HTMLInputElement).value })}
                      onKeyDown={(ev) => {
                        if (ev.key === 'Enter') rename();
                        if (ev.key === 'Escape') setRenaming(null);
                      }}
                    />
                  ) : (
                    <a href={`/runs?experiments=${e.experiment_id}`} onClick={linkHandler}>
                      {e.name}
                    </a>
                  )}
                </td>
                <td class="muted">{e.experiment_id}</td>
                <td class="count">{counts[e.experiment_id] ?? '…'}</td>
                <td>{when(e.last_update_time)}</td>
                <td class="muted">{when(e.creation_time)}</td>
                <td class="exp-actions">
                  {access.canEdit(e.experiment_id) &&
                    (renaming?.id === e.experiment_id ? (
                      <button onClick={rename}>Save</button>
                    ) : (
                      <button onClick={() => setRenaming({ id: e.experiment_id, name: e.name })}>Rename</button>
                    ))}
                  {access.canManage(e.experiment_id) &&
                    (e.lifecycle_stage === 'deleted' ? (
                      <button onClick={() => run(mlflow('POST', 'experiments/restore', { experiment_id: e.experiment_id }))}>Restore</button>
                    ) : (
                      <button onClick={() => confirm(`Delete experiment "${e.name}"?`) && run(mlflow('POST', 'experiments/delete', { experiment_id: e.experiment_id }))}>Delete</button>
                    ))}
                  {access.me.auth_enabled && access.canManage(e.experiment_id) && <button onClick={() => setSharing(e)}>Permissions</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list?.length === 0 && <p class="muted">No experiments{q ? ` matching "${q}"` : ''}.</p>}
      {sharing && <PermissionsDialog me={access.me} target={{ experiment_id: sharing.experiment_id }} title={sharing.name} onClose={() => setSharing(null)} />}
    </div>
  );
}
