import { randomBytes } from 'node:crypto';
import { invalid, rateLimited, unauthenticated, unlessStorageUnavailable } from '../errors.js';
import type { AuthSource, Role, UserRecord } from '../store/auth-types.js';
import type { TrackingStore } from '../store/types.js';
import type { Caller } from './permissions.js';
import { newSecret, SESSION_PREFIX, sha256, TOKEN_PREFIX, verifyPassword } from './secrets.js';

// A verified credential is trusted this long before the store is asked again; MLflow measured 3x
// throughput from such a cache. A change to the user (a revoked token, a new role or password, a
// deletion) drops the user's entries as soon as the store tells of it, from whichever process; the
// TTL only bounds what a change the store could not tell of (a listener that died unnoticed) leaves.
const VERIFIED_TTL_MS = 30_000;
const VERIFIED_MAX = 10_000;
const FAILURE_WINDOW_MS = 15 * 60_000;
const TOUCH_EVERY_MS = 60_000;

export interface CredentialOptions {
  sessionTtlMs: number;
  loginMaxFailures: number;
  now: () => number;
}

export type Credential =
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; secret: string }
  | { kind: 'session'; id: string };

const callerOf = (u: UserRecord, via: Caller['via'], extra: Partial<Caller> = {}): Caller => ({
  userId: u.id,
  username: u.username,
  role: u.role,
  via,
  ...extra,
});

/** Turns what a request presents into a caller: tokens, passwords, sessions, and failed-login limits. */
export function createCredentialService(store: TrackingStore, opts: CredentialOptions) {
  const verified = new Map<string, { caller: Caller; at: number }>();
  const failures = new Map<string, number[]>();
  const touched = new Map<number, number>();
  // Counts the changes heard: an answer the store gave before one was heard may predate it.
  let heard = 0;

  function cached(key: string): Caller | null {
    if (!store.authChangesHeard()) return null;
    const hit = verified.get(key);
    if (!hit) return null;
    if (opts.now() - hit.at > VERIFIED_TTL_MS) {
      verified.delete(key);
      return null;
    }
    return hit.caller;
  }

  /** Caches what the store answered after `since` (a count of `heard`), unless a change came in between. */
  function remember(key: string, caller: Caller, since: number): Caller {
    if (!store.authChangesHeard() || since !== heard) return caller;
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.set(key, { caller, at: opts.now() });
    return caller;
  }

  /** Failed attempts in the window for these keys; throws 429 once any reached the limit. */
  function checkFailures(keys: string[]): void {
    const now = opts.now();
    for (const key of keys) {
      const recent = (failures.get(key) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
      failures.set(key, recent);
      if (recent.length >= opts.loginMaxFailures) {
        const retryAfter = Math.max(1, Math.ceil((recent[0] + FAILURE_WINDOW_MS - now) / 1000));
        throw rateLimited(`Too many failed logins; try again in ${retryAfter} seconds.`, retryAfter);
      }
    }
  }

  function recordFailure(keys: string[]): void {
    for (const key of keys) {
      const list = failures.get(key) ?? [];
      list.push(opts.now());
      failures.set(key, list);
    }
  }

  async function byToken(token: string, username?: string): Promise<Caller | null> {
    const hash = sha256(token);
    const key = `t:${hash}`;
    const hit = cached(key);
    if (hit) return username === undefined || hit.username === username ? hit : null;
    const since = heard;
    const found = await store.tokenByHash(hash);
    if (!found || found.token.revokedAt !== null) return null;
    if (found.token.expiresAt !== null && found.token.expiresAt <= opts.now()) return null;
    if (username !== undefined && found.user.username !== username) return null;
    const now = opts.now();
    if (now - (touched.get(found.token.id) ?? 0) > TOUCH_EVERY_MS) {
      touched.set(found.token.id, now);
      // A read with a token must not fail because the disk refuses this bookkeeping write.
      await unlessStorageUnavailable(store.touchToken(found.token.id, now));
    }
    // An expiring token must not outlive its expiry in the cache.
    const caller = callerOf(found.user, 'token', { tokenId: found.token.id });
    return found.token.expiresAt !== null && found.token.expiresAt - now < VERIFIED_TTL_MS ? caller : remember(key, caller, since);
  }

  async function byPassword(username: string, password: string, address: string): Promise<Caller | null> {
    // The limits first: a locked username or address is refused even for a password still in the
    // cache, else guesses from a locked address would keep being answered (200 for the right one).
    const limits = [`u:${username}`, `a:${address}`];
    checkFailures(limits);
    const key = `p:${sha256(`${username}\0${password}`)}`;
    const hit = cached(key);
    if (hit) return hit;
    const since = heard;
    const user = await store.getUser(username);
    if (!(await verifyPassword(password, user?.passwordHash ?? null)) || !user) {
      recordFailure(limits);
      return null;
    }
    return remember(key, callerOf(user, 'password'), since);
  }

  return {
    /** The caller for a credential, or 401 when it is not (or no longer) valid. */
    async authenticate(cred: Credential, address: string): Promise<Caller> {
      let caller: Caller | null = null;
      if (cred.kind === 'bearer') caller = await byToken(cred.token);
      else if (cred.kind === 'basic') {
        caller = cred.secret.startsWith(TOKEN_PREFIX) ? await byToken(cred.secret, cred.username) : await byPassword(cred.username, cred.secret, address);
      } else {
        const idHash = sha256(cred.id);
        const found = await store.sessionByHash(idHash, opts.now());
        if (found) caller = callerOf(found.user, 'session', { csrfToken: found.session.csrfToken, sessionHash: idHash });
      }
      if (!caller) throw unauthenticated(cred.kind === 'session' ? 'Your session has ended; log in again.' : 'Invalid credentials.');
      return caller;
    },

    /** A browser login: a new session for a valid username and password. */
    async login(username: string, password: string, address: string) {
      const caller = await byPassword(username, password, address);
      if (!caller) throw unauthenticated('Invalid username or password.');
      return this.startSession(caller.userId!);
    },

    /** A new browser session for a user already proven (password, OIDC, trusted proxy). */
    async startSession(userId: number) {
      const id = newSecret(SESSION_PREFIX);
      const csrfToken = randomBytes(24).toString('base64url');
      const now = opts.now();
      await store.createSession({ idHash: sha256(id), userId, csrfToken, now, expiresAt: now + opts.sessionTtlMs });
      const user = (await store.getUserById(userId))!;
      return { sessionId: id, csrfToken, user, maxAgeSeconds: Math.floor(opts.sessionTtlMs / 1000) };
    },

    endSession: (idHash: string) => store.deleteSession(idHash),

    /** Finds the user a trusted proxy or identity provider vouches for, creating them on first sight. */
    async externalUser(username: string, source: AuthSource, role: Role): Promise<UserRecord> {
      if (!/^[\w.@+-]{1,255}$/.test(username)) throw invalid(`Invalid username from ${source}: '${username.slice(0, 80)}'`);
      const existing = await store.getUser(username);
      if (existing) return existing;
      try {
        return await store.createUser({ username, passwordHash: null, role, authSource: source, now: opts.now() });
      } catch {
        // Two first requests at once: the other one created the user.
        return (await store.getUser(username))!;
      }
    },

    async proxyCaller(username: string, role: Role): Promise<Caller> {
      const key = `x:${username}`;
      const hit = cached(key);
      if (hit) return hit;
      const since = heard;
      return remember(key, callerOf(await this.externalUser(username, 'proxy', role), 'proxy'), since);
    },

    newToken: () => newSecret(TOKEN_PREFIX),

    /** A change to this user (null: to anyone): their credentials are checked anew. */
    forget(userId: number | null): void {
      heard++;
      if (userId === null) verified.clear();
      else for (const [key, hit] of verified) if (hit.caller.userId === userId) verified.delete(key);
    },
  };
}

export type CredentialService = ReturnType<typeof createCredentialService>;
