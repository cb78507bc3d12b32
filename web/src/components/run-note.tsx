import { useState } from 'preact/hooks';
import { mlflow } from '../api.js';
import { Markdown } from './markdown.js';

export const NOTE_TAG = 'mlflow.note.content';

/** The run's markdown note (tag `mlflow.note.content`, as MLflow's UI stores it), editable in place by who may write. */
export function RunNote({ runId, note, canEdit, onSaved }: { runId: string; note: string; canEdit: boolean; onSaved: (text: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(note);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      await mlflow('POST', 'runs/set-tag', { run_id: runId, key: NOTE_TAG, value: draft });
      onSaved(draft);
      setEditing(false);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <div class="card note" data-testid="note">
      <div class="toolbar">
        <h2 style="margin:0">Note</h2>
        {!editing && canEdit && (
          <button
            data-testid="note-edit"
            onClick={() => {
              setDraft(note);
              setEditing(true);
            }}
          >
            {note ? 'Edit' : 'Add a note'}
          </button>
        )}
      </div>
      {editing ? (
        <div class="note-editor">
          <textarea
            data-testid="note-input"
            rows={8}
            value={draft}
            onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)}
            placeholder="Markdown: # heading, **bold**, *italic*, `code`, - lists, [links](https://...)"
          />
          <div class="toolbar">
            <button class="primary" data-testid="note-save" disabled={saving} onClick={() => void save()}>
              {saving ? 'Saving…' : 'Save'}
            </button>
            <button onClick={() => setEditing(false)} disabled={saving}>
              Cancel
            </button>
            {error && <span class="error">{error}</span>}
          </div>
        </div>
      ) : note ? (
        <div data-testid="note-view">
          <Markdown text={note} />
        </div>
      ) : (
        <p class="muted">No note yet.</p>
      )}
    </div>
  );
}
