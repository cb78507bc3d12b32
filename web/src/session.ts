import { useSubscription } from './subscription.js';
import { ApiError, lablogQuiet, setCsrfToken, setUnauthenticatedHandler } from './api.js';

/** The auth contract (docs/auth.md) as the UI reads it. */
export type Role = 'admin' | 'editor' | 'viewer';
export type Permission = 'NO_PERMISSIONS' | 'READ' | 'EDIT' | 'MANAGE';
export const ROLES: Role[] = ['admin', 'editor', 'viewer'];
export const PERMISSIONS: Permission[] = ['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE'];
const RANK: Record<Permission, number> = { NO_PERMISSIONS: 0, READ: 1, EDIT: 2, MANAGE: 3 };

export interface User {
  id?: number;
  username: string;
  role: Role;
  auth_source?: 'local' | 'oidc' | 'proxy';
  created_at?: number;
}
export interface Me {
  user: User;
  auth_enabled: boolean;
  default_permission: Permission;
  csrf_token?: string;
  permissions: { experiment_id: string; permission: Permission }[];
  /** Explicit permissions on registered models (absent on servers without the registry). */
  model_permissions?: { registered_model_name: string; permission: Permission }[];
}

/** loading: the first `me` is on its way; anonymous: the server wants credentials (the login page). */
export type Session = { state: 'loading' } | { state: 'anonymous' } | { state: 'in'; me: Me };

/** A server without the auth endpoints (or with auth off) lets everyone do everything, as before. */
const OPEN: Me = { user: { username: 'local', role: 'admin' }, auth_enabled: false, default_permission: 'MANAGE', permissions: [] };

let session: Session = { state: 'loading' };
const listeners = new Set<() => void>();
function publish(s: Session): void {
  session = s;
  if (s.state === 'in') setCsrfToken(s.me.csrf_token);
  else setCsrfToken(null);
  listeners.forEach((l) => l());
}

// Any API call answering 401 (the session expired, or was ended elsewhere) returns to the login page;
// the URL is left alone, so logging in again lands where the user was.
setUnauthenticatedHandler(() => {
  if (session.state === 'in' && !session.me.auth_enabled) return;
  if (session.state !== 'anonymous') publish({ state: 'anonymous' });
});

/** Reads `me`: who is logged in, their role and explicit permissions. */
export async function loadMe(): Promise<void> {
  try {
    publish({ state: 'in', me: await lablogQuiet<Me>('GET', 'me') });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) publish({ state: 'anonymous' });
    else if (e instanceof ApiError && e.status === 404) publish({ state: 'in', me: OPEN });
    else throw e;
  }
}

export async function login(username: string, password: string): Promise<void> {
  const r = await lablogQuiet<{ user: User; csrf_token: string }>('POST', 'auth/login', { username, password });
  setCsrfToken(r.csrf_token);
  await loadMe();
}

export async function logout(): Promise<void> {
  try {
    await lablogQuiet('POST', 'auth/logout', {});
  } finally {
    publish({ state: 'anonymous' });
  }
}

export function useSession(): Session {
  return useSubscription(listeners, () => session);
}

/** The logged-in caller (the open one before `me` answered or with auth off). */
export function currentMe(): Me {
  return session.state === 'in' ? session.me : OPEN;
}

/** The caller's permission on an experiment: explicit, else the default; a viewer never above READ. */
export function permissionOn(me: Me, experimentId: string): Permission {
  if (!me.auth_enabled || me.user.role === 'admin') return 'MANAGE';
  const p = me.permissions.find((x) => x.experiment_id === experimentId)?.permission ?? me.default_permission;
  return me.user.role === 'viewer' && RANK[p] > RANK.READ ? 'READ' : p;
}

export const atLeast = (have: Permission, need: Permission) => RANK[have] >= RANK[need];
export const isAdmin = (me: Me) => !me.auth_enabled || me.user.role === 'admin';
export const canCreateExperiments = (me: Me) => !me.auth_enabled || me.user.role !== 'viewer';

/** What the pages ask: may the current caller write to / manage this experiment? */
export function useAccess() {
  useSession();
  const me = currentMe();
  return {
    me,
    canEdit: (experimentId: string) => atLeast(permissionOn(me, experimentId), 'EDIT'),
    canManage: (experimentId: string) => atLeast(permissionOn(me, experimentId), 'MANAGE'),
    admin: isAdmin(me),
    canCreate: canCreateExperiments(me),
  };
}
