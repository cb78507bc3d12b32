import { useState } from 'preact/hooks';
import type { KeyValue } from '../api.js';
import { errorText } from './account-api.js';

/**
 * The tags of a model or a version: a table of key/value, a Remove button per tag (`canDelete`) and a
 * key + value form to set one (`canEdit`; setting an existing key replaces its value).
 */
export function TagEditor({
  tags,
  canEdit,
  canDelete,
  onSet,
  onDelete,
  testid = 'tags',
}: {
  tags: KeyValue[];
  canEdit: boolean;
  canDelete: boolean;
  onSet: (key: string, value: string) => Promise<unknown>;
  onDelete: (key: string) => Promise<unknown>;
  testid?: string;
}) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (e: Event) => {
    e.preventDefault();
    if (await act(() => onSet(key.trim(), value))) {
      setKey('');
      setValue('');
    }
  };
  const sorted = [...tags].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <div class="card" data-testid={testid}>
      <h2 style="margin-top:0">Tags</h2>
      {sorted.length === 0 ? (
        <p class="muted">No tags.</p>
      ) : (
        <table class="plain kv-table">
          <tbody>
            {sorted.map((t) => (
              <tr key={t.key} data-key={t.key}>
                <th>{t.key}</th>
                <td class="wrap">{t.value}</td>
                {canDelete && (
                  <td class="row-end">
                    <button class="small" aria-label={`remove tag ${t.key}`} disabled={busy} onClick={() => void act(() => onDelete(t.key))}>
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canEdit && (
        <form class="toolbar tag-form" onSubmit={add}>
          <input name="tag-key" aria-label="tag key" placeholder="key" value={key} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} />
          <input name="tag-value" aria-label="tag value" placeholder="value" value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" disabled={busy || !key.trim()}>
            Set tag
          </button>
        </form>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
