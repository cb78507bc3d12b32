import { useState } from 'preact/hooks';
import { errorText } from './account-api.js';
import { Markdown } from './markdown.js';

/**
 * A markdown description (of a registered model or a version), rendered as the run note is and edited
 * in place by who may: `onSave` stores it and the card shows what was saved.
 */
export function DescriptionCard({ text, canEdit, onSave, testid = 'description' }: { text: string; canEdit: boolean; onSave: (text: string) => Promise<unknown>; testid?: string }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(text);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      await onSave(draft);
      setEditing(false);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div class="card note" data-testid={testid}>
      <div class="toolbar">
        <h2 style="margin:0">Description</h2>
        {!editing && canEdit && (
          <button
            data-testid={`${testid}-edit`}
            onClick={() => {
              setDraft(text);
              setEditing(true);
            }}
          >
            {text ? 'Edit' : 'Add a description'}
          </button>
        )}
      </div>
      {editing ? (
        <div class="note-editor">
          <textarea data-testid={`${testid}-input`} rows={6} value={draft} onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)} placeholder="Markdown: # heading, **bold**, `code`, - lists, [links](https://...)" />
          <div class="toolbar">
            <button class="primary" data-testid={`${testid}-save`} disabled={saving} onClick={() => void save()}>
              {saving ? 'Saving…' : 'Save'}
            </button>
            <button onClick={() => setEditing(false)} disabled={saving}>
              Cancel
            </button>
            {error && <span class="error">{error}</span>}
          </div>
        </div>
      ) : text ? (
        <div data-testid={`${testid}-view`}>
          <Markdown text={text} />
        </div>
      ) : (
        <p class="muted">No description.</p>
      )}
    </div>
  );
}
