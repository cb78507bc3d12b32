import { useState } from 'preact/hooks';
import { navigate } from '../router.js';
import { errorText } from './account-api.js';
import { deleteModel, modelHref, renameModel } from './registry-api.js';
import { loadMe, type Me } from '../session.js';

/**
 * Rename (EDIT), Delete (MANAGE, after a confirmation) and, with auth on,
 * Permissions (MANAGE) of a registered model.
 */
export function ModelActions({ me, name, canRename, canManage, onPermissions }: { me: Me; name: string; canRename: boolean; canManage: boolean; onPermissions: () => void }) {
  const [renaming, setRenaming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const rename = async () => {
    const to = renaming?.trim();
    if (!to || to === name) return setRenaming(null);
    setError(null);
    try {
      await renameModel(name, to);
      // Permissions are held by name: the caller's own follow the model to its new name.
      if (me.auth_enabled) await loadMe();
      navigate(modelHref(to), { replace: true });
    } catch (e) {
      setError(errorText(e));
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the registered model "${name}" and all its versions?`)) return;
    setError(null);
    try {
      await deleteModel(name);
      navigate('/models');
    } catch (e) {
      setError(errorText(e));
    }
  };
  if (!canRename && !canManage) return null;
  return (
    <span class="head-action model-actions">
      {canRename &&
        (renaming === null ? (
          <button onClick={() => setRenaming(name)}>Rename</button>
        ) : (
          <>
            <input
              name="rename-model"
              aria-label="new name"
              value={renaming}
              autoFocus
              onInput={(e) => setRenaming((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') void rename();
                if (e.key === 'Escape') setRenaming(null);
              }}
            />
            <button onClick={() => void rename()}>Save</button>
          </>
        ))}
      {canManage && <button onClick={() => void remove()}>Delete</button>}
      {canManage && me.auth_enabled && <button onClick={onPermissions}>Permissions</button>}
      {error && (
        <span class="error" role="alert">
          {' '}
          {error}
        </span>
      )}
    </span>
  );
}
