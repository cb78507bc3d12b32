import { useEffect, useState } from 'preact/hooks';
import { loadMe, PERMISSIONS, type Me, type Permission } from '../session.js';
import { deletePermission, errorText, listPermissions, listUsers, setPermission, type Grant, type PermissionTarget } from './account-api.js';
import { Loaded, StatusLine } from './status-line.js';
import '../auth.css';

/**
 * Who may do what on one experiment or registered model (admins, and users with MANAGE on it): the
 * explicit permissions, set one (username + level), remove one; everyone else has the server's default.
 */
export function PermissionsDialog({ me, target, title, onClose }: { me: Me; target: PermissionTarget; title: string; onClose(): void }) {
  const [list, setList] = useState<Grant[] | null>(null);
  const [users, setUsers] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [username, setUsername] = useState('');
  const [level, setLevel] = useState<Permission>('EDIT');

  useEffect(() => {
    let live = true;
    listPermissions(target).then(
      (p) => live && setList(p.sort((a, b) => a.username.localeCompare(b.username))),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [JSON.stringify(target), reload]);
  useEffect(() => {
    // Admins get the user names to pick from; others type them.
    if (me.user.role === 'admin') listUsers().then((u) => setUsers(u.map((x) => x.username)), () => undefined);
  }, []);
  useEffect(() => {
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', esc);
    return () => document.removeEventListener('keydown', esc);
  }, []);

  const act = async (work: () => Promise<unknown>, who: string) => {
    setError(null);
    try {
      await work();
      setReload((n) => n + 1);
      // The caller's own permissions may have changed: the write controls follow.
      if (who === me.user.username) await loadMe();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    }
  };
  const set = async (e: Event) => {
    e.preventDefault();
    const who = username.trim();
    if (await act(() => setPermission({ ...target, username: who, permission: level }), who)) setUsername('');
  };

  return (
    <div class="modal-back" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal card" role="dialog" aria-label="permissions" data-testid="permissions-dialog">
        <div class="toolbar">
          <h2 style="margin:0">Permissions of “{title}”</h2>
          <button style={{ marginLeft: 'auto' }} aria-label="close" onClick={onClose}>
            ✕
          </button>
        </div>
        <p class="muted" data-testid="default-permission">
          Everyone else: <b>{me.default_permission}</b> (the server's default). Admins may do everything; viewers never write.
        </p>
        <StatusLine error={error} />
        <Loaded items={list} empty="No explicit permissions.">
          {(list) => (
            <table class="plain permissions">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Permission</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {list.map((p) => (
                  <tr key={p.username} data-username={p.username}>
                    <td class="name">{p.username}</td>
                    <td>
                      <select
                        aria-label={`permission of ${p.username}`}
                        value={p.permission}
                        onChange={(e) => void act(() => setPermission({ ...p, permission: (e.target as HTMLSelectElement).value as Permission }), p.username)}
                      >
                        {PERMISSIONS.map((x) => (
                          <option key={x}>{x}</option>
                        ))}
                      </select>
                    </td>
                    <td>
                      <button onClick={() => void act(() => deletePermission(target, p.username), p.username)}>Remove</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loaded>
        <form class="toolbar perm-form" onSubmit={set}>
          <input name="perm-username" list="perm-users" placeholder="username" autoComplete="off" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
          <datalist id="perm-users">
            {users.map((u) => (
              <option key={u} value={u} />
            ))}
          </datalist>
          <select name="perm-level" aria-label="permission" value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value as Permission)}>
            {PERMISSIONS.map((x) => (
              <option key={x}>{x}</option>
            ))}
          </select>
          <button class="primary" type="submit" disabled={!username.trim()}>
            Set
          </button>
        </form>
      </div>
    </div>
  );
}
