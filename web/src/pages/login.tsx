import { useEffect, useState } from 'preact/hooks';
import { ApiError, lablogQuiet } from '../api.js';
import { login } from '../session.js';
import '../auth.css';

/**
 * Shown instead of any page while the server wants credentials. The URL is left as it is, so after
 * logging in the user is on the page they asked for (or were on when the session expired).
 */
export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState<string | null>(null);
  useEffect(() => {
    // auth/config (public) says whether single sign-on is configured, and where it starts.
    lablogQuiet<{ oidc_enabled?: boolean; oidc_login_url?: string }>('GET', 'auth/config').then(
      (c) => setSso(c.oidc_enabled && c.oidc_login_url ? c.oidc_login_url : null),
      () => setSso(null),
    );
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) setError(`Too many attempts, retry in ${err.retryAfter ?? 60} s.`);
      else setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit} data-testid="login-form">
        <h1>Sign in to lablog</h1>
        <label>
          Username
          <input name="username" autoComplete="username" autoFocus value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        {error && (
          <p class="error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy || !username.trim() || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {sso && (
          // `next`: back to the page asked for once the provider sends the browser back.
          <a class="sso" href={`${sso}?next=${encodeURIComponent(location.pathname + location.search)}`} data-testid="sso">
            Sign in with SSO
          </a>
        )}
      </form>
    </div>
  );
}
