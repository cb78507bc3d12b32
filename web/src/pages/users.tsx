import { useEffect, useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { ROLES, type Me, type Role, type User } from '../session.js';
import { createUser, deleteUser, errorText, listUsers, updateUser, when } from '../components/account-api.js';
import { Loaded, StatusLine } from '../components/status-line.js';
import '../auth.css';

/** One user's row: role picker, password reset in place, tokens link, delete (never oneself). */
function UserRow({ user, self, act }: { user: User; self: boolean; act(work: () => Promise<unknown>, done?: string): Promise<boolean> }) {
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState('');
  const reset = async () => {
    if (await act(() => updateUser({ username: user.username, password }), `Password of ${user.username} changed.`)) {
      setResetting(false);
      setPassword('');
    }
  };
  return (
    <tr data-username={user.username}>
      <td class="name">
        {user.username}
        {self && <span class="muted"> (you)</span>}
      </td>
      <td>
        <select name="role" aria-label={`role of ${user.username}`} value={user.role} disabled={self} onChange={(e) => void act(() => updateUser({ username: user.username, role: (e.target as HTMLSelectElement).value as Role }))}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </td>
      <td class="muted">{user.auth_source ?? ''}</td>
      <td class="muted">{when(user.created_at)}</td>
      <td>
        <div class="row-actions">
          {resetting ? (
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                void reset();
              }}
            >
              <input name="new-password" type="password" placeholder="new password" autoFocus value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
              <button type="submit" disabled={!password}>
                Save
              </button>
              <button type="button" onClick={() => setResetting(false)}>
                Cancel
              </button>
            </form>
          ) : (
            user.auth_source !== 'oidc' && user.auth_source !== 'proxy' && <button onClick={() => setResetting(true)}>Reset password</button>
          )}
          <a href={`/settings/tokens?user=${encodeURIComponent(user.username)}`} onClick={linkHandler}>
            tokens
          </a>
          <button
            disabled={self}
            title={self ? 'you cannot delete yourself' : undefined}
            onClick={() => confirm(`Delete user “${user.username}”? Their tokens and sessions end.`) && void act(() => deleteUser(user.username), `User ${user.username} deleted.`)}
          >
            Delete
          </button>
        </div>
      </td>
    </tr>
  );
}

/** /admin/users: every user; create, change role, reset password, delete. */
export function UsersPage({ me }: { me: Me }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [form, setForm] = useState<{ username: string; password: string; role: Role }>({ username: '', password: '', role: 'editor' });

  useEffect(() => {
    let live = true;
    listUsers().then(
      (u) => live && setUsers(u.sort((a, b) => a.username.localeCompare(b.username))),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [reload]);

  const act = async (work: () => Promise<unknown>, done?: string) => {
    setError(null);
    setNotice(null);
    try {
      await work();
      if (done) setNotice(done);
      setReload((n) => n + 1);
      return true;
    } catch (e) {
      setError(errorText(e));
      setReload((n) => n + 1);
      return false;
    }
  };
  const create = async () => {
    if (await act(() => createUser({ ...form, username: form.username.trim() }), `User ${form.username.trim()} created.`)) setForm({ username: '', password: '', role: form.role });
  };
  const field = (k: 'username' | 'password') => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  return (
    <div class="users-page account-page">
      <h1>Users</h1>
      <form
        class="toolbar card"
        data-testid="create-user"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <input name="new-username" placeholder="username" autoComplete="off" value={form.username} onInput={field('username')} />
        <input name="new-user-password" type="password" placeholder="password" autoComplete="new-password" value={form.password} onInput={field('password')} />
        <select name="new-user-role" aria-label="role" value={form.role} onChange={(e) => setForm({ ...form, role: (e.target as HTMLSelectElement).value as Role })}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <button class="primary" type="submit" disabled={!form.username.trim() || !form.password}>
          Create user
        </button>
      </form>
      <StatusLine error={error} notice={notice} />
      <Loaded items={users}>
        {(users) => (
          <table class="plain users">
            <thead>
              <tr>
                <th>Username</th>
                <th>Role</th>
                <th>Source</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <UserRow key={u.username} user={u} self={u.username === me.user.username} act={act} />
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </div>
  );
}
