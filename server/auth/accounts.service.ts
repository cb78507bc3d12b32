import { denied, invalid, notFound } from '../errors.js';
import type { AuditEntry, AuditQuery, Permission, Role, TokenRecord, UserRecord } from '../store/auth-types.js';
import type { TrackingStore } from '../store/types.js';
import type { Access } from './access.js';
import type { CredentialService } from './credentials.service.js';
import { isAdmin, type Caller } from './permissions.js';
import { hashPassword, sha256 } from './secrets.js';

const USERNAME = /^[\w.@+-]{1,255}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;
const MAX_TOKEN_DAYS = 3650;
const DAY_MS = 86_400_000;

function checkUsername(username: string): void {
  if (!USERNAME.test(username)) throw invalid(`Invalid username '${username.slice(0, 80)}': use 1 to 255 letters, digits or . _ @ + -`);
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw invalid(`A password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters long.`);
  }
}

function adminOnly(caller: Caller): void {
  if (!isAdmin(caller)) throw denied(`Permission denied: only admins may do this (user '${caller.username}' is ${caller.role}).`);
}

/** Users, tokens, permissions and the audit log, each call checked against the caller. */
export function createAccountService(store: TrackingStore, access: Access, credentials: CredentialService, opts: { defaultPermission: Permission; enabled: boolean; now: () => number }) {
  async function userNamed(username: string): Promise<UserRecord> {
    const user = await store.getUser(username);
    if (!user) throw notFound(`User with username '${username}' not found.`);
    return user;
  }

  async function mayManage(caller: Caller, experimentId: string): Promise<void> {
    await store.getExperiment(experimentId);
    await access.experiment(caller, experimentId, 'MANAGE');
  }

  async function mayManageModel(caller: Caller, name: string): Promise<void> {
    await store.getRegisteredModel(name);
    await access.model(caller, name, 'MANAGE');
  }

  return {
    defaultPermission: opts.defaultPermission,
    enabled: opts.enabled,

    async me(caller: Caller) {
      const user = caller.userId === null ? null : await store.getUserById(caller.userId);
      const permissions = caller.userId === null ? new Map<string, Permission>() : await store.permissionsOf(caller.userId);
      const modelPermissions = caller.userId === null ? new Map<string, Permission>() : await store.modelPermissionsOf(caller.userId);
      return { caller, user, permissions, modelPermissions };
    },

    async createUser(caller: Caller, u: { username: string; password: string; role: Role }): Promise<UserRecord> {
      adminOnly(caller);
      checkUsername(u.username);
      checkPassword(u.password);
      return store.createUser({ username: u.username, passwordHash: await hashPassword(u.password), role: u.role, authSource: 'local', now: opts.now() });
    },

    async listUsers(caller: Caller): Promise<UserRecord[]> {
      adminOnly(caller);
      return store.listUsers();
    },

    /** Admins change anyone's role or password; a user may change their own password. */
    async updateUser(caller: Caller, u: { username: string; role?: Role; password?: string }): Promise<UserRecord> {
      const self = caller.username === u.username && caller.userId !== null;
      if (!isAdmin(caller) && !(self && u.role === undefined)) adminOnly(caller);
      if (u.password !== undefined) checkPassword(u.password);
      if (self && u.role !== undefined && u.role !== 'admin') throw invalid('An admin cannot take away their own admin role; ask another admin.');
      return store.updateUser(u.username, { role: u.role, passwordHash: u.password === undefined ? undefined : await hashPassword(u.password) }, opts.now());
    },

    async deleteUser(caller: Caller, username: string): Promise<void> {
      adminOnly(caller);
      if (username === caller.username) throw invalid('You cannot delete yourself.');
      if (!(await store.deleteUser(username))) throw notFound(`User with username '${username}' not found.`);
    },

    /** A token for the caller (or, for admins, for `username`); its value is answered this once. */
    async createToken(caller: Caller, t: { name: string; expiresInDays?: number; username?: string }): Promise<{ token: TokenRecord; value: string }> {
      if (!t.name.trim() || t.name.length > 255) throw invalid('A token needs a name of 1 to 255 characters.');
      if (t.expiresInDays !== undefined && (!Number.isInteger(t.expiresInDays) || t.expiresInDays < 1 || t.expiresInDays > MAX_TOKEN_DAYS)) {
        throw invalid(`expires_in_days must be a whole number from 1 to ${MAX_TOKEN_DAYS}.`);
      }
      let userId = caller.userId;
      if (t.username !== undefined && t.username !== caller.username) {
        adminOnly(caller);
        userId = (await userNamed(t.username)).id;
      }
      if (userId === null) throw invalid('Tokens are for users; with auth off there is no need for one.');
      const value = credentials.newToken();
      const now = opts.now();
      const token = await store.createToken({ userId, name: t.name, tokenHash: sha256(value), now, expiresAt: t.expiresInDays === undefined ? null : now + t.expiresInDays * DAY_MS });
      return { token, value };
    },

    async listTokens(caller: Caller, username?: string): Promise<TokenRecord[]> {
      if (username !== undefined && username !== caller.username) {
        adminOnly(caller);
        return store.listTokens((await userNamed(username)).id);
      }
      if (caller.userId === null) return store.listTokens(null);
      return store.listTokens(caller.userId);
    },

    async revokeToken(caller: Caller, id: number): Promise<void> {
      const token = await store.getToken(id);
      if (!token || token.revokedAt !== null || (token.userId !== caller.userId && !isAdmin(caller))) {
        throw notFound(`Token with id ${id} not found.`);
      }
      await store.revokeToken(id, opts.now());
    },

    async setPermission(caller: Caller, p: { experimentId: string; username: string; permission: Permission }): Promise<void> {
      await mayManage(caller, p.experimentId);
      const user = await userNamed(p.username);
      await store.setPermission(p.experimentId, user.id, p.permission);
    },

    async deletePermission(caller: Caller, p: { experimentId: string; username: string }): Promise<void> {
      await mayManage(caller, p.experimentId);
      const user = await userNamed(p.username);
      if (!(await store.deletePermission(p.experimentId, user.id))) {
        throw notFound(`User '${p.username}' has no permission of their own on experiment ${p.experimentId}.`);
      }
    },

    async listPermissions(caller: Caller, experimentId: string) {
      await mayManage(caller, experimentId);
      return store.listPermissions(experimentId);
    },

    async setModelPermission(caller: Caller, p: { name: string; username: string; permission: Permission }): Promise<void> {
      await mayManageModel(caller, p.name);
      const user = await userNamed(p.username);
      await store.setModelPermission(p.name, user.id, p.permission);
    },

    async deleteModelPermission(caller: Caller, p: { name: string; username: string }): Promise<void> {
      await mayManageModel(caller, p.name);
      const user = await userNamed(p.username);
      if (!(await store.deleteModelPermission(p.name, user.id))) {
        throw notFound(`User '${p.username}' has no permission of their own on registered model '${p.name}'.`);
      }
    },

    async listModelPermissions(caller: Caller, name: string) {
      await mayManageModel(caller, name);
      return store.listModelPermissions(name);
    },

    record: (e: Omit<AuditEntry, 'id'>) => store.appendAudit(e),

    async listAudit(caller: Caller, q: AuditQuery) {
      adminOnly(caller);
      return store.listAudit(q);
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
