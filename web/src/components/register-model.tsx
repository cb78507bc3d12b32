import { useEffect, useState } from 'preact/hooks';
import { errorText } from './account-api.js';
import { listArtifacts } from './artifact-tree.js';
import { VersionLink } from './model-bits.js';
import { registerFromRun, searchModels, type ModelVersion } from './registry-api.js';
import { currentMe, loadMe } from '../session.js';

/**
 * "Register model" on an artifact folder that holds an MLmodel file (the folder of the selected
 * artifact), as MLflow's UI offers: a model name, existing or new (created first), and a version with
 * source `runs:/<run_id>/<folder>`.
 */
export function RegisterModel({ runId, folder, onRegistered }: { runId: string; folder: string; onRegistered: () => void }) {
  const [isModel, setIsModel] = useState(false);
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [names, setNames] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<ModelVersion | null>(null);

  useEffect(() => {
    let live = true;
    setIsModel(false);
    setOpen(false);
    setDone(null);
    listArtifacts(runId, folder).then(
      (files) => live && setIsModel(files.some((f) => !f.is_dir && f.path === (folder ? `${folder}/MLmodel` : 'MLmodel'))),
      () => undefined,
    );
    return () => void (live = false);
  }, [runId, folder]);
  useEffect(() => {
    // The existing models to pick from (the first page is enough to suggest; any name may be typed).
    if (open) searchModels({ max_results: 1000 }).then((r) => setNames((r.registered_models ?? []).map((m) => m.name)), () => undefined);
  }, [open]);

  if (!isModel) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setDone(await registerFromRun(name.trim(), runId, folder));
      setOpen(false);
      // A new model is its creator's to manage: `me` says so once read again.
      if (currentMe().auth_enabled) await loadMe();
      onRegistered();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="register-model toolbar" data-testid="register-model">
      <span class="muted">
        <code>{folder || '/'}</code> is an MLflow model.
      </span>
      {!open && (
        <button class="primary" onClick={() => setOpen(true)}>
          Register model
        </button>
      )}
      {open && (
        <form class="toolbar" onSubmit={submit}>
          <input name="register-name" aria-label="model name" list="register-names" placeholder="model name (new or existing)" autoFocus value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
          <datalist id="register-names">
            {names.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            Register
          </button>
          <button type="button" onClick={() => setOpen(false)} disabled={busy}>
            Cancel
          </button>
        </form>
      )}
      {done && (
        <span data-testid="register-done">
          Registered {done.name} <VersionLink name={done.name} version={done.version} />
        </span>
      )}
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
