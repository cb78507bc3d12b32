import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { KeyValue, Run } from '../api.js';
import { linkHandler } from '../router.js';

export function fmtTime(ms?: number): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDuration(ms: number): string {
  if (!(ms >= 0)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function tagMap(run: Run): Map<string, string> {
  return new Map((run.data.tags ?? []).map((t) => [t.key, t.value]));
}

export function runName(run: Run): string {
  return run.info.run_name || tagMap(run).get('mlflow.runName') || run.info.run_id;
}

/** Name, status, experiment, user, times, ids; a running run's duration ticks every second. */
export function RunInfoCard({ run, experimentName }: { run: Run; experimentName?: string }) {
  const i = run.info;
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (i.status !== 'RUNNING') return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [i.status]);
  const tags = tagMap(run);
  const end = i.end_time || (i.status === 'RUNNING' ? now : undefined);
  const parent = tags.get('mlflow.parentRunId');
  const rows: [string, ComponentChildren][] = [
    ['Status', <span class={`status status-${i.status}`} data-testid="run-status">{i.status}</span>],
    [
      'Experiment',
      <a href={`/runs?experiments=${encodeURIComponent(i.experiment_id)}`} onClick={linkHandler} data-testid="run-experiment">
        {experimentName ?? i.experiment_id}
      </a>,
    ],
    ['User', i.user_id || tags.get('mlflow.user') || '—'],
    ['Started', fmtTime(i.start_time)],
    ['Duration', i.start_time && end ? fmtDuration(end - i.start_time) : '—'],
    ['Run ID', <code>{i.run_id}</code>],
    ['Artifact URI', <code>{i.artifact_uri ?? '—'}</code>],
  ];
  if (parent)
    rows.splice(2, 0, [
      'Parent run',
      <a href={`/run/${encodeURIComponent(parent)}`} onClick={linkHandler}>
        {parent}
      </a>,
    ]);
  return (
    <div class="card run-info" data-testid="run-info">
      <dl class="kv">
        {rows.map(([k, v]) => (
          <div key={k} class="kv-row">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

export function KeyValueTable({ items, testid, empty }: { items: KeyValue[]; testid: string; empty: string }) {
  if (items.length === 0) return <p class="muted">{empty}</p>;
  const sorted = [...items].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <table class="plain kv-table" data-testid={testid}>
      <tbody>
        {sorted.map((p) => (
          <tr key={p.key}>
            <th>{p.key}</th>
            <td class="wrap">{p.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Tags that the reproducibility card or the note already show. */
const SHOWN_ELSEWHERE = new Set(['mlflow.note.content', 'lablog.images', 'lablog.command']);

/** git commit (short) + branch + repo, the command line, the source, and the diff artifact if any. */
export function ReproCard({ run, hasDiff, onShowDiff }: { run: Run; hasDiff: boolean; onShowDiff: () => void }) {
  const t = tagMap(run);
  const commit = t.get('mlflow.source.git.commit');
  const branch = t.get('mlflow.source.git.branch');
  const repo = t.get('mlflow.source.git.repoURL');
  const command = t.get('lablog.command');
  const source = t.get('mlflow.source.name');
  if (!commit && !command && !source && !hasDiff) return null;
  const repoWeb = repo && /^https?:\/\//.test(repo) ? repo.replace(/\.git$/, '') : undefined;
  return (
    <div class="card repro" data-testid="repro">
      {commit && (
        <div class="repro-row">
          <span class="label">Commit</span>
          <code class="commit" title={commit} data-testid="git-commit">
            {commit.slice(0, 8)}
          </code>
          {branch && <span class="pill">{branch}</span>}
          {repo && (repoWeb ? <a href={repoWeb} target="_blank" rel="noopener noreferrer">{repo}</a> : <span class="muted">{repo}</span>)}
        </div>
      )}
      {command && (
        <div class="repro-row">
          <span class="label">Command</span>
          <code class="command" data-testid="command">{command}</code>
          <button class="small" onClick={() => void navigator.clipboard?.writeText(command)}>
            Copy
          </button>
        </div>
      )}
      {source && (
        <div class="repro-row">
          <span class="label">Source</span>
          <code>{source}</code> <span class="muted">{t.get('mlflow.source.type') ?? ''}</span>
        </div>
      )}
      {/* A run with a commit tag comes from a git checkout, the only place the SDK takes a diff from:
          its Diff row is there from the first render, filled in when the artifact listing says. */}
      {(commit || hasDiff) && (
        <div class="repro-row repro-diff" data-testid="repro-diff">
          <span class="label">Diff</span>
          {hasDiff ? (
            <>
              <span>uncommitted changes: </span>
              <button class="small" onClick={onShowDiff} data-testid="show-diff">
                show source/git.diff
              </button>
              <a href={`/get-artifact?run_id=${encodeURIComponent(run.info.run_id)}&path=source/git.diff`}>download</a>
            </>
          ) : (
            <span class="muted">—</span>
          )}
        </div>
      )}
    </div>
  );
}

/** User tags, then the system (`mlflow.*`) ones in their own table. */
export function TagTables({ run }: { run: Run }) {
  const tags = (run.data.tags ?? []).filter((t) => !SHOWN_ELSEWHERE.has(t.key));
  const system = tags.filter((t) => t.key.startsWith('mlflow.'));
  const user = tags.filter((t) => !t.key.startsWith('mlflow.'));
  return (
    <div class="tag-tables">
      <h3>Tags</h3>
      <KeyValueTable items={user} testid="user-tags" empty="No tags." />
      <h3>System tags</h3>
      <KeyValueTable items={system} testid="system-tags" empty="No system tags." />
    </div>
  );
}
