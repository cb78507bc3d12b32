import { useEffect, useRef, useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { logout, type Me } from '../session.js';

/** The header's user menu: who is logged in, their role, the account pages and Log out. */
export function UserMenu({ me }: { me: Me }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => ref.current && !ref.current.contains(e.target as Node) && setOpen(false);
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  if (!me.auth_enabled)
    return (
      <span class="user-menu muted-light" data-testid="auth-off" title="Auth is off: everyone on this server acts as the local admin (LABLOG_AUTH=on turns it on)">
        auth off
      </span>
    );
  const admin = me.user.role === 'admin';
  const go = (e: MouseEvent) => {
    setOpen(false);
    linkHandler(e);
  };
  return (
    <div class="user-menu" ref={ref}>
      <button class="user-button" data-testid="user-menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span data-testid="user-name">{me.user.username}</span> <span class={`role role-${me.user.role}`}>{me.user.role}</span> ▾
      </button>
      {open && (
        <div class="user-panel" role="menu">
          <a href="/settings/tokens" onClick={go} role="menuitem">
            Tokens
          </a>
          {admin && (
            <a href="/admin/users" onClick={go} role="menuitem">
              Users
            </a>
          )}
          {admin && (
            <a href="/admin/audit" onClick={go} role="menuitem">
              Audit
            </a>
          )}
          <button class="link" role="menuitem" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      )}
    </div>
  );
}
