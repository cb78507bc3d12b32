import { useEffect, useState } from 'preact/hooks';
import { linkHandler, setQuery } from '../router.js';
import { errorText, listAudit, when, type AuditEntry, type AuditFilter } from '../components/account-api.js';
import { Loaded, StatusLine } from '../components/status-line.js';
import '../auth.css';

const PAGE = 50;

/** A datetime-local value (local time, minutes) <-> epoch milliseconds. */
const toMs = (v: string | null) => (v ? new Date(v).getTime() : undefined);
const pad = (n: number) => String(n).padStart(2, '0');
const toLocal = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

/**
 * /admin/audit?user=&experiment=&from=&to=: who wrote what, newest first. The filters live in the URL;
 * pages follow next_page_token (the tokens of the pages seen are kept, for Previous).
 */
export function AuditPage({ query }: { query: URLSearchParams }) {
  const filter: AuditFilter = {
    username: query.get('user') || undefined,
    experiment_id: query.get('experiment') || undefined,
    start_time: toMs(query.get('from')),
    end_time: toMs(query.get('to')),
  };
  const key = JSON.stringify(filter);
  const [draft, setDraft] = useState({ user: query.get('user') ?? '', experiment: query.get('experiment') ?? '', from: query.get('from') ?? '', to: query.get('to') ?? '' });
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => setPages([undefined]), [key]);
  const token = pages[pages.length - 1];
  useEffect(() => {
    let live = true;
    setError(null);
    listAudit(filter, token, PAGE).then(
      (r) => {
        if (!live) return;
        setEntries(r.entries ?? []);
        setNext(r.next_page_token || undefined);
      },
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [key, token, reload]);

  const apply = (e: Event) => {
    e.preventDefault();
    setQuery({ user: draft.user.trim() || null, experiment: draft.experiment.trim() || null, from: draft.from || null, to: draft.to || null });
  };
  const input = (k: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });

  return (
    <div class="audit-page account-page">
      <h1>Audit log</h1>
      <form class="toolbar card" onSubmit={apply} data-testid="audit-filters">
        <input name="audit-user" placeholder="user" value={draft.user} onInput={input('user')} />
        <input name="audit-experiment" placeholder="experiment id" value={draft.experiment} onInput={input('experiment')} />
        <label>
          from <input name="audit-from" type="datetime-local" value={draft.from} onInput={input('from')} />
        </label>
        <label>
          to <input name="audit-to" type="datetime-local" value={draft.to} onInput={input('to')} />
        </label>
        <button class="primary" type="submit">
          Apply
        </button>
        <button
          type="button"
          onClick={() => {
            setDraft({ user: '', experiment: '', from: '', to: '' });
            setQuery({ user: null, experiment: null, from: null, to: null });
          }}
        >
          Clear
        </button>
        <button type="button" onClick={() => setReload((n) => n + 1)}>
          Refresh
        </button>
        <button type="button" title="the last hour" onClick={() => setDraft({ ...draft, from: toLocal(Date.now() - 3600_000), to: '' })}>
          last hour
        </button>
      </form>
      <StatusLine error={error} />
      <Loaded items={entries}>
        {(entries) => (
          <table class="plain audit">
            <thead>
              <tr>
                <th>Time</th>
                <th>User</th>
                <th>Method</th>
                <th>Route</th>
                <th>Status</th>
                <th>Experiment</th>
                <th>Run</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-id={e.id}>
                  <td>{when(e.time)}</td>
                  <td class="user">{e.username}</td>
                  <td class="method">{e.method}</td>
                  <td class="route mono">{e.route}</td>
                  <td class={e.status >= 400 ? 'error' : ''}>{e.status}</td>
                  <td>
                    {e.experiment_id && (
                      <a href={`/runs?experiments=${encodeURIComponent(e.experiment_id)}`} onClick={linkHandler}>
                        {e.experiment_id}
                      </a>
                    )}
                  </td>
                  <td class="mono">
                    {e.run_id && (
                      <a href={`/run/${encodeURIComponent(e.run_id)}`} onClick={linkHandler}>
                        {e.run_id.slice(0, 12)}
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
      {entries?.length === 0 && <p class="muted">No entries.</p>}
      <div class="toolbar pager">
        <button disabled={pages.length < 2} onClick={() => setPages(pages.slice(0, -1))}>
          Previous
        </button>
        <span class="muted">page {pages.length}</span>
        <button disabled={!next} onClick={() => setPages([...pages, next])}>
          Next
        </button>
      </div>
    </div>
  );
}
