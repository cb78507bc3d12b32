import { ApiError, lablog, lablogPost } from '../api.js';
import type { Permission, Role, User } from '../session.js';

/** The management API of docs/auth.md, as the account pages call it. */
export interface Token {
  id: number;
  name: string;
  username: string;
  created_at: number;
  expires_at?: number;
  last_used_at?: number;
}
/** What a permission is on: an experiment, or a registered model (its name). */
export type PermissionTarget = { experiment_id: string } | { registered_model_name: string };
export type Grant = PermissionTarget & {
  username: string;
  permission: Permission;
};
export interface AuditEntry {
  id: number;
  time: number;
  username: string;
  method: string;
  route: string;
  status: number;
  experiment_id?: string;
  run_id?: string;
}
export interface AuditFilter {
  username?: string;
  experiment_id?: string;
  start_time?: number;
  end_time?: number;
}

export const listUsers = () => lablog<{ users?: User[] }>('users/list', {}).then((r) => r.users ?? []);
export const createUser = (u: { username: string; password: string; role: Role }) => lablogPost<{ user: User }>('users/create', u);
export const updateUser = (u: { username: string; role?: Role; password?: string }) => lablogPost<{ user: User }>('users/update', u);
export const deleteUser = (username: string) => lablogPost('users/delete', { username });

export const listTokens = (username?: string) => lablog<{ tokens?: Token[] }>('tokens/list', { username }).then((r) => r.tokens ?? []);
export const createToken = (t: { name: string; expires_in_days?: number; username?: string }) => lablogPost<{ token: Token & { value: string } }>('tokens/create', t).then((r) => r.token);
export const revokeToken = (id: number) => lablogPost('tokens/revoke', { id });

export const listPermissions = (target: PermissionTarget) => lablog<{ permissions?: Grant[] }>('permissions/list', target).then((r) => r.permissions ?? []);
export const setPermission = (p: Grant) => lablogPost('permissions/set', p);
export const deletePermission = (target: PermissionTarget, username: string) => lablogPost('permissions/delete', { ...target, username });

export const listAudit = (f: AuditFilter, pageToken?: string, maxResults = 50) =>
  lablog<{ entries?: AuditEntry[]; next_page_token?: string }>('audit/list', { ...f, page_token: pageToken, max_results: maxResults });

export const when = (t?: number | null) => (t ? new Date(t).toLocaleString() : '');
export const errorText = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));
