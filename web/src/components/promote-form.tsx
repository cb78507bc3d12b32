import { useState } from 'preact/hooks';
import { errorText } from './account-api.js';
import { STAGES, transitionStage, type ModelVersion, type Stage } from './registry-api.js';

/**
 * Transition a version to a stage (MLflow's transition-stage), optionally archiving the versions now in
 * that stage, as MLflow's "Transition to" dialog offers.
 */
export function PromoteForm({ version, onDone, onCancel }: { version: ModelVersion; onDone: () => void; onCancel: () => void }) {
  const current = version.current_stage ?? 'None';
  const [stage, setStage] = useState<Stage>(current === 'Production' ? 'Archived' : current === 'Staging' ? 'Production' : 'Staging');
  const [archive, setArchive] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await transitionStage(version.name, version.version, stage, archive && (stage === 'Staging' || stage === 'Production'));
      onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const archivable = stage === 'Staging' || stage === 'Production';
  return (
    <form class="promote-form toolbar" data-testid="promote-form" onSubmit={submit}>
      <label>
        v{version.version} to{' '}
        <select name="stage" aria-label="stage" value={stage} onChange={(e) => setStage((e.currentTarget as HTMLSelectElement).value as Stage)}>
          {STAGES.filter((s) => s !== current).map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label class={archivable ? '' : 'muted'}>
        <input type="checkbox" name="archive-existing" checked={archive && archivable} disabled={!archivable} onChange={(e) => setArchive((e.currentTarget as HTMLInputElement).checked)} /> archive existing {archivable ? stage : ''} versions
      </label>
      <button type="submit" class="primary" disabled={busy}>
        Transition
      </button>
      <button type="button" onClick={onCancel} disabled={busy}>
        Cancel
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
