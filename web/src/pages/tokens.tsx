import { useEffect, useState } from 'preact/hooks';
import { setQuery } from '../router.js';
import type { Me, User } from '../session.js';
import { createToken, errorText, listTokens, listUsers, revokeToken, when, type Token } from '../components/account-api.js';
import { Loaded, StatusLine } from '../components/status-line.js';
import '../auth.css';

/** A just-created token: its value is answered this once, so it is shown here with a Copy button. */
function NewToken({ token, onDone }: { token: Token & { value: string }; onDone(): void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token.value);
      setCopied(true);
    } catch {
      // No clipboard (plain http, permissions): select the value so ctrl+c copies it.
      const el = document.querySelector<HTMLInputElement>('[data-testid=token-value]');
      el?.select();
    }
  };
  return (
    <div class="card new-token" data-testid="new-token">
      <p>
        <b>Token “{token.name}” created.</b> Copy it now: <b>it will not be shown again.</b>
      </p>
      <div class="toolbar">
        <input class="mono token-value" readOnly value={token.value} data-testid="token-value" onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button class="primary" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button onClick={onDone}>Done</button>
      </div>
      <p class="muted">Use it as MLFLOW_TRACKING_TOKEN (or LABLOG_TRACKING_TOKEN), or as the password of Basic auth.</p>
    </div>
  );
}

/** /settings/tokens[?user=name]: the caller's API tokens; admins pick whose. */
export function TokensPage({ me, query }: { me: Me; query: URLSearchParams }) {
  const admin = me.user.role === 'admin';
  const owner = (admin && query.get('user')) || me.user.username;
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [created, setCreated] = useState<(Token & { value: string }) | null>(null);

  useEffect(() => {
    let live = true;
    listTokens(owner === me.user.username ? undefined : owner).then(
      (t) => live && setTokens(t),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [owner, reload]);
  useEffect(() => {
    if (admin) listUsers().then(setUsers, () => undefined);
  }, [admin]);

  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      setReload((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const daysNum = days.trim() ? Number(days) : undefined;
  const daysBad = daysNum !== undefined && !(Number.isInteger(daysNum) && daysNum > 0);
  const create = () =>
    act(async () => {
      setCreated(await createToken({ name: name.trim(), expires_in_days: daysNum, username: owner === me.user.username ? undefined : owner }));
      setName('');
      setDays('');
    });
  const revoke = (t: Token) => confirm(`Revoke token “${t.name}” of ${t.username}? Programs using it lose access at once.`) && act(() => revokeToken(t.id));

  return (
    <div class="tokens-page account-page">
      <h1>API tokens</h1>
      <p class="muted">Tokens let scripts and the MLflow client log to this server as {owner === me.user.username ? 'you' : owner}.</p>
      {admin && (
        <div class="toolbar">
          <label>
            Tokens of{' '}
            <select name="owner" value={owner} onChange={(e) => setQuery({ user: (e.target as HTMLSelectElement).value === me.user.username ? null : (e.target as HTMLSelectElement).value })}>
              {[...new Set([me.user.username, ...users.map((u) => u.username), owner])].map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {created && <NewToken token={created} onDone={() => setCreated(null)} />}
      <form
        class="toolbar card"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <input name="token-name" placeholder="token name (e.g. laptop)" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input name="token-days" class={daysBad ? 'bad' : ''} type="number" min="1" placeholder="expires in days (optional)" value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        <button class="primary" type="submit" disabled={!name.trim() || daysBad}>
          Create token
        </button>
      </form>
      <StatusLine error={error} />
      <Loaded items={tokens} empty="No tokens.">
        {(tokens) => (
          <table class="plain tokens">
            <thead>
              <tr>
                <th>Name</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-id={t.id}>
                  <td class="name">{t.name}</td>
                  <td>{when(t.created_at)}</td>
                  <td>{t.expires_at ? when(t.expires_at) : <span class="muted">never</span>}</td>
                  <td>{t.last_used_at ? when(t.last_used_at) : <span class="muted">never</span>}</td>
                  <td>
                    <button onClick={() => void revoke(t)}>Revoke</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </div>
  );
}
