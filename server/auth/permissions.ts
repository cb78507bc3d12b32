import type { Permission, Role } from '../store/auth-types.js';

export const PERMISSIONS = ['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE'] as const satisfies readonly Permission[];
export const ROLES = ['admin', 'editor', 'viewer'] as const satisfies readonly Role[];

const RANK: Record<Permission, number> = { NO_PERMISSIONS: 0, READ: 1, EDIT: 2, MANAGE: 3 };

export const atLeast = (have: Permission, need: Permission) => RANK[have] >= RANK[need];

/** A viewer never writes, whatever its permissions say; admins are not asked. */
export function capByRole(role: Role, p: Permission): Permission {
  return role === 'viewer' && RANK[p] > RANK.READ ? 'READ' : p;
}

/** Who is asking: resolved once per request by the HTTP layer, handed to every service call. */
export interface Caller {
  /** null for the built-in admin of a server with auth off. */
  userId: number | null;
  username: string;
  role: Role;
  via: 'off' | 'token' | 'password' | 'session' | 'proxy';
  /** For a browser session: its CSRF token, which writes must echo. */
  csrfToken?: string;
  /** For a browser session: the hash of its id, to end it at logout. */
  sessionHash?: string;
  /** For a token: its id. */
  tokenId?: number;
}

/** The caller of a server with auth off: one person on localhost may do everything. */
export const LOCAL_ADMIN: Caller = Object.freeze({ userId: null, username: 'local', role: 'admin', via: 'off' });

export const isAdmin = (c: Caller) => c.role === 'admin';
