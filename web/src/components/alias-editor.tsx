import { useState } from 'preact/hooks';
import { errorText } from './account-api.js';
import { VersionLink } from './model-bits.js';
import { deleteAlias, setAlias } from './registry-api.js';

/**
 * A model's aliases (`@champion → v3`): set one on a version (an existing alias moves to it), remove
 * one. `versions` are the model's version numbers, newest first.
 */
export function AliasEditor({
  name,
  aliases,
  versions,
  canEdit,
  canDelete,
  onChanged,
}: {
  name: string;
  aliases: { alias: string; version: string }[];
  versions: string[];
  canEdit: boolean;
  canDelete: boolean;
  onChanged: () => void;
}) {
  const [alias, setAliasText] = useState('');
  const [version, setVersion] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      onChanged();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const chosen = version || versions[0] || '';
  const submit = async (e: Event) => {
    e.preventDefault();
    if (await act(() => setAlias(name, alias.trim().replace(/^@/, ''), chosen))) setAliasText('');
  };
  const sorted = [...aliases].sort((a, b) => a.alias.localeCompare(b.alias));
  return (
    <div class="card" data-testid="aliases">
      <h2 style="margin-top:0">Aliases</h2>
      {sorted.length === 0 ? (
        <p class="muted">No aliases.</p>
      ) : (
        <table class="plain kv-table">
          <tbody>
            {sorted.map((a) => (
              <tr key={a.alias} data-alias={a.alias}>
                <th>@{a.alias}</th>
                <td>
                  <VersionLink name={name} version={a.version} />
                </td>
                {canDelete && (
                  <td class="row-end">
                    <button class="small" aria-label={`remove alias ${a.alias}`} disabled={busy} onClick={() => void act(() => deleteAlias(name, a.alias))}>
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canEdit && versions.length > 0 && (
        <form class="toolbar tag-form" onSubmit={submit}>
          <input name="alias" aria-label="alias" placeholder="alias, e.g. champion" value={alias} onInput={(e) => setAliasText((e.currentTarget as HTMLInputElement).value)} />
          <select name="alias-version" aria-label="version" value={chosen} onChange={(e) => setVersion((e.currentTarget as HTMLSelectElement).value)}>
            {versions.map((v) => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </select>
          <button type="submit" disabled={busy || !alias.trim().replace(/^@/, '')}>
            Set alias
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
