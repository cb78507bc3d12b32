import { useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { AliasPills, excerpt, StageBadge, TagPills, VersionLink, when } from './model-bits.js';
import { PromoteForm } from './promote-form.js';
import type { ModelVersion } from './registry-api.js';
import { useRunNames } from './run-names.js';

/**
 * A model's versions, newest first: number, registered, stage (with Transition for who may), aliases,
 * the run it came from, source, status, tags, description. The promote form opens under its row.
 */
export function ModelVersionsTable({ versions, canEdit, onChanged }: { versions: ModelVersion[]; canEdit: boolean; onChanged: () => void }) {
  const [promoting, setPromoting] = useState<string | null>(null);
  const runNames = useRunNames(versions.map((v) => v.run_id));
  if (versions.length === 0) return <p class="muted">No versions yet: register one from a run's artifacts (a folder with an MLmodel file).</p>;
  const cols = canEdit ? 10 : 9;
  return (
    <table class="plain versions" data-testid="versions-table">
      <thead>
        <tr>
          <th>Version</th>
          <th>Registered</th>
          <th>Stage</th>
          <th>Aliases</th>
          <th>Run</th>
          <th>Source</th>
          <th>Status</th>
          <th>Tags</th>
          <th>Description</th>
          {canEdit && <th />}
        </tr>
      </thead>
      <tbody>
        {versions.flatMap((v) => {
          const row = (
            <tr key={v.version} data-version={v.version}>
              <td>
                <VersionLink name={v.name} version={v.version} />
              </td>
              <td class="muted">{when(v.creation_timestamp)}</td>
              <td class="stage-cell">
                <StageBadge stage={v.current_stage} />
              </td>
              <td class="aliases">
                <AliasPills name={v.name} aliases={(v.aliases ?? []).map((alias) => ({ alias }))} />
              </td>
              <td>
                {v.run_id ? (
                  <a href={`/run/${encodeURIComponent(v.run_id)}`} onClick={linkHandler} class="run-link" title={v.run_id}>
                    {runNames[v.run_id] ?? v.run_id.slice(0, 8)}
                  </a>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
              <td class="source" title={v.source}>
                <code>{v.source}</code>
              </td>
              <td class={`mv-status mv-${v.status ?? 'READY'}`} title={v.status_message}>
                {v.status ?? 'READY'}
              </td>
              <td class="tags">
                <TagPills tags={v.tags} />
              </td>
              <td class="excerpt" title={v.description}>
                {excerpt(v.description, 60)}
              </td>
              {canEdit && (
                <td class="row-end">
                  <button class="small" onClick={() => setPromoting(promoting === v.version ? null : v.version)}>
                    Transition…
                  </button>
                </td>
              )}
            </tr>
          );
          if (promoting !== v.version) return [row];
          return [
            row,
            <tr key={`${v.version}-promote`} class="promote-row">
              <td colSpan={cols}>
                <PromoteForm
                  version={v}
                  onCancel={() => setPromoting(null)}
                  onDone={() => {
                    setPromoting(null);
                    onChanged();
                  }}
                />
              </td>
            </tr>,
          ];
        })}
      </tbody>
    </table>
  );
}
