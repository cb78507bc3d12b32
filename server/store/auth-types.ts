import type { Page } from './types.js';

// The auth rows as the store hands them to server/auth. Secrets arrive here already hashed.

export type Role = 'admin' | 'editor' | 'viewer';
export type Permission = 'NO_PERMISSIONS' | 'READ' | 'EDIT' | 'MANAGE';
export type AuthSource = 'local' | 'oidc' | 'proxy';

export interface UserRecord {
  id: number;
  username: string;
  passwordHash: string | null;
  role: Role;
  authSource: AuthSource;
  createdAt: number;
  updatedAt: number;
}

export interface TokenRecord {
  id: number;
  userId: number;
  username: string;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface SessionRecord {
  userId: number;
  csrfToken: string;
  expiresAt: number;
}

export interface PermissionRecord {
  experimentId: string;
  username: string;
  permission: Permission;
}

export interface AuditEntry {
  id: number;
  time: number;
  username: string;
  method: string;
  route: string;
  status: number;
  experimentId: string | null;
  runId: string | null;
}

export interface AuditQuery {
  username?: string;
  experimentId?: string;
  startTime?: number;
  endTime?: number;
  offset: number;
  limit: number;
}

/** Reads limited to what one user may read: their explicit permission, else the default one. */
export interface ReadableBy {
  userId: number;
  /** Whether the default permission lets the user read (then only an explicit NO_PERMISSIONS hides). */
  defaultReadable: boolean;
}

/** A committed change to what a credential proves or what a user may do. */
export interface AuthChange {
  /** Whose: one user's, or (null) possibly anyone's. */
  userId: number | null;
  /** Only their permissions, or their account too (role, password, tokens, existence). */
  what: 'permissions' | 'user';
}

/**
 * Changes to users, tokens and permissions as they commit, for the caches in server/auth. Changes
 * made through another process count too: another server on the PostgreSQL database, or a `lablog
 * users` / `lablog tokens` command on the SQLite file.
 */
export interface AuthChanges {
  /** Calls `listener` after each committed change; returns the call that stops it. */
  onAuthChanged(listener: (change: AuthChange) => void): () => void;
  /**
   * Whether every change reaches onAuthChanged now. False while one could go unheard (PostgreSQL: the
   * connection that listens for other servers' changes is down or not up yet): then a cache must
   * neither answer nor learn. May first hand the listeners a change waiting to be noticed (SQLite:
   * another process wrote to the file, looked for at most every few milliseconds).
   */
  authChangesHeard(): boolean;
}

/**
 * Writes that change what a credential proves or what a user may do (a user's role, password or
 * existence, a token's revocation, a permission) reach the AuthChanges listeners once committed;
 * creating a user, token or session changes nothing already cached, and sessions are never cached.
 */
export interface AuthStore extends AuthChanges {
  countUsers(): Promise<number>;
  /** Throws RESOURCE_ALREADY_EXISTS for a taken username. */
  createUser(u: { username: string; passwordHash: string | null; role: Role; authSource: AuthSource; now: number }): Promise<UserRecord>;
  getUser(username: string): Promise<UserRecord | null>;
  getUserById(id: number): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  /** Throws RESOURCE_DOES_NOT_EXIST. */
  updateUser(username: string, u: { role?: Role; passwordHash?: string }, now: number): Promise<UserRecord>;
  /** Removes the user with their tokens, sessions and permissions; false when there was none. */
  deleteUser(username: string): Promise<boolean>;

  createToken(t: { userId: number; name: string; tokenHash: string; now: number; expiresAt: number | null }): Promise<TokenRecord>;
  /** The token (revoked and expired ones too: the caller decides) and its user. */
  tokenByHash(tokenHash: string): Promise<{ token: TokenRecord; user: UserRecord } | null>;
  listTokens(userId: number | null): Promise<TokenRecord[]>;
  getToken(id: number): Promise<(TokenRecord & { tokenHash: string }) | null>;
  revokeToken(id: number, now: number): Promise<void>;
  touchToken(id: number, now: number): Promise<void>;

  createSession(s: { idHash: string; userId: number; csrfToken: string; now: number; expiresAt: number }): Promise<void>;
  sessionByHash(idHash: string, now: number): Promise<{ session: SessionRecord; user: UserRecord } | null>;
  deleteSession(idHash: string): Promise<void>;

  /** Throws RESOURCE_DOES_NOT_EXIST for an unknown experiment. */
  setPermission(experimentId: string, userId: number, permission: Permission): Promise<void>;
  deletePermission(experimentId: string, userId: number): Promise<boolean>;
  listPermissions(experimentId: string): Promise<PermissionRecord[]>;
  /** The user's explicit permissions, by experiment id. */
  permissionsOf(userId: number): Promise<Map<string, Permission>>;

  appendAudit(e: Omit<AuditEntry, 'id'>): Promise<void>;
  listAudit(q: AuditQuery): Promise<Page<AuditEntry>>;
}
