import { useEffect, useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { errorText } from './account-api.js';
import { AliasPills, StageBadge, VersionLink, when } from './model-bits.js';
import { modelHref, versionsOfRun, type ModelVersion } from './registry-api.js';
import { RegisterModel } from './register-model.js';

/** The artifact folders of the models the run logged (the `mlflow.log-model.history` tag `log_model` appends to). */
export function loggedModelPaths(historyTag: string | undefined): string[] {
  try {
    const list = JSON.parse(historyTag ?? '[]') as { artifact_path?: unknown }[];
    return [...new Set(list.map((m) => m?.artifact_path).filter((p): p is string => typeof p === 'string'))];
  } catch {
    return [];
  }
}

/**
 * The run page's "Registered models": the versions registered from this run (model-versions/search
 * `run_id='…'`), and, for who may register, a Register model action per model the run logged.
 */
export function RunModels({ runId, reloadKey, logged, canRegister, onRegistered }: { runId: string; reloadKey: number; logged: string[]; canRegister: boolean; onRegistered: () => void }) {
  const [versions, setVersions] = useState<ModelVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    versionsOfRun(runId).then(
      (v) => live && (setVersions(v), setError(null)),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [runId, reloadKey]);
  return (
    <section class="card run-models" data-testid="run-models">
      <h2 style="margin-top:0">Registered models{versions ? ` (${versions.length})` : ''}</h2>
      {error ? (
        <p class="error">{error}</p>
      ) : versions === null ? (
        <p class="muted">Loading…</p>
      ) : versions.length === 0 ? (
        <p class="muted">No model registered from this run.</p>
      ) : (
        <table class="plain">
          <thead>
            <tr>
              <th>Model</th>
              <th>Version</th>
              <th>Stage</th>
              <th>Aliases</th>
              <th>Source</th>
              <th>Registered</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={`${v.name}/${v.version}`} data-model={v.name} data-version={v.version}>
                <td class="name">
                  <a href={modelHref(v.name)} onClick={linkHandler}>
                    {v.name}
                  </a>
                </td>
                <td>
                  <VersionLink name={v.name} version={v.version} />
                </td>
                <td>
                  <StageBadge stage={v.current_stage} />
                </td>
                <td>
                  <AliasPills name={v.name} aliases={(v.aliases ?? []).map((alias) => ({ alias }))} />
                </td>
                <td class="source">
                  <code>{v.source}</code>
                </td>
                <td class="muted">{when(v.creation_timestamp)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canRegister && logged.length > 0 && (
        <div class="logged-models" data-testid="logged-models">
          <h3>Logged models</h3>
          {logged.map((path) => (
            <RegisterModel key={path} runId={runId} folder={path} onRegistered={onRegistered} />
          ))}
        </div>
      )}
    </section>
  );
}
