import pg from 'pg';
import { ANYONE, type AuthFeed } from '../auth-feed.js';
import type { AuthChange } from '../auth-types.js';
import { transaction } from './db.js';

/** The channel every lablog server on the database LISTENs on for auth changes. */
export const AUTH_CHANNEL = 'lablog_auth';
/** The listening connection's application_name, as pg_stat_activity shows it. */
export const LISTENER_NAME = 'lablog auth listener';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
// A connection that died without a word (a cut network) keeps no LISTEN; a query that goes unanswered
// is how the listener learns, and then it reconnects.
const HEARTBEAT_MS = 10_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;

// 'u' (the account) or 'p' (permissions only), then a user id or '*' for anyone: far below NOTIFY's
// 8000-byte limit.
const payloadOf = (c: AuthChange): string => `${c.what === 'user' ? 'u' : 'p'}${c.userId ?? '*'}`;
// Anything else (a newer server's payload) is read as "anyone's account": dropping too much is safe.
function changeOf(payload: string | undefined): AuthChange {
  const m = /^([up])(\d{1,15}|\*)$/.exec(payload ?? '');
  if (!m) return ANYONE;
  return { userId: m[2] === '*' ? null : Number(m[2]), what: m[1] === 'u' ? 'user' : 'permissions' };
}

/**
 * Runs `write` in one transaction. Each change it reports is announced to every listening server with
 * pg_notify, which PostgreSQL delivers on commit only (never for a rolled-back write), and to this
 * process's listeners right after the commit.
 */
export async function writeAuth<T>(pool: pg.Pool, feed: AuthFeed, write: (c: pg.PoolClient, changed: (change: AuthChange) => void) => Promise<T>): Promise<T> {
  const changes: AuthChange[] = [];
  const out = await transaction(pool, async (c) => {
    const result = await write(c, (change) => changes.push(change));
    for (const change of changes) await c.query('SELECT pg_notify($1, $2)', [AUTH_CHANNEL, payloadOf(change)]);
    return result;
  });
  for (const change of changes) feed.emit(change);
  return out;
}

export type ListenerState = { listening: true } | { listening: false; error: Error };

/**
 * Hears the auth changes other processes commit to the database and hands them to `feed`. It holds a
 * connection of its own (a pooled one would go back to the pool and lose its LISTEN) and reconnects
 * when it drops. Changes committed while nobody listened are unknown, so on every (re)connection the
 * feed is told "anyone changed"; `listening()` is false until then, and caches must not be trusted.
 */
export function listenForAuthChanges(url: string, feed: AuthFeed, onState: (s: ListenerState) => void = () => {}) {
  let client: pg.Client | null = null;
  let connecting: Promise<void> | null = null;
  let listening = false;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let retry: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;

  function lost(c: pg.Client, error: Error): void {
    if (client !== c) return;
    client = null;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    void c.end().catch(() => {});
    const was = listening;
    listening = false;
    if (was) {
      feed.emit(ANYONE);
      onState({ listening: false, error });
    }
    if (closed) return;
    retry = setTimeout(() => void start(), retryMs);
    retry.unref();
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: url, application_name: LISTENER_NAME, connectionTimeoutMillis: 10_000, query_timeout: HEARTBEAT_TIMEOUT_MS });
    client = c;
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('the connection ended')));
    c.on('notification', (n) => {
      if (n.channel === AUTH_CHANNEL) feed.emit(changeOf(n.payload));
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${AUTH_CHANNEL}`);
    } catch (err) {
      lost(c, err as Error);
      return;
    }
    if (client !== c) return;
    retryMs = RETRY_MIN_MS;
    listening = true;
    feed.emit(ANYONE);
    onState({ listening: true });
    heartbeat = setInterval(() => void c.query('SELECT 1').catch((err: Error) => lost(c, err)), HEARTBEAT_MS);
    heartbeat.unref();
  }

  function start(): Promise<void> {
    retry = null;
    if (closed || client) return connecting ?? Promise.resolve();
    connecting = connect().finally(() => (connecting = null));
    return connecting;
  }

  return {
    /** Starts listening (once); resolves after the first attempt, listening or not. */
    start,
    listening: () => listening,
    async close(): Promise<void> {
      closed = true;
      if (retry) clearTimeout(retry);
      // An attempt under way ends on its own (connectionTimeoutMillis at worst); then its client is closed.
      await connecting;
      const c = client;
      if (c) {
        client = null;
        listening = false;
        if (heartbeat) clearInterval(heartbeat);
        await c.end().catch(() => {});
      }
    },
  };
}
