import type { Caller } from '../auth/permissions.js';

/**
 * The bytes of repeated read answers (runs/search, metrics/get-history), served again while the store
 * is unchanged. A UI table refreshing, a sweep polling, a notebook re-reading a history ask the same
 * question many times between writes; the answer costs milliseconds to compute (SQL, then JSON of every
 * run or point) and microseconds to send again.
 *
 * Never stale: an entry holds the store's answerVersion read *before* the read that made it, and is
 * served only while the store's version is still that one; every write, by this process or another,
 * moves the version. Never across callers: the key holds who asked (user id and role decide what a
 * caller may read; the permissions themselves are rows in the store, so their changes move the version
 * too). Bounded in bytes: least recently used entries go first.
 */
export interface AnswerCache {
  /** The store's version now (null: do not keep what is read next); read before the read. */
  version(): string | null;
  get(key: string, version: string): Buffer | undefined;
  /** Keeps `bytes` if the store is still at `version` (a write during the read would have made it newer). */
  put(key: string, version: string, bytes: Buffer): void;
  /** Whether an answer of this many bytes may be kept at all. */
  fits(bytes: number): boolean;
}

/** Bytes kept in all by default, and at most per answer (a 100,000-point history is about 8 MB of JSON). */
export const ANSWER_CACHE_BYTES = 64 * 1024 * 1024;
export const ANSWER_MAX_BYTES = 16 * 1024 * 1024;

/** `total`: bytes kept in all; an answer may take at most a quarter of them, and ANSWER_MAX_BYTES. */
export function createAnswerCache(storeVersion: () => string | null, total = ANSWER_CACHE_BYTES): AnswerCache {
  const limits = { total, each: Math.min(ANSWER_MAX_BYTES, Math.floor(total / 4)) };
  // Map order is recency order: a hit moves its entry to the end, eviction takes from the front.
  const entries = new Map<string, { version: string; bytes: Buffer }>();
  let held = 0;
  const drop = (key: string) => {
    const e = entries.get(key);
    if (e === undefined) return;
    entries.delete(key);
    held -= e.bytes.length;
  };
  return {
    version: storeVersion,
    get(key, version) {
      const e = entries.get(key);
      if (e === undefined) return undefined;
      entries.delete(key);
      // A version other than the current one never comes back: the entry is dead.
      if (e.version !== version) {
        held -= e.bytes.length;
        return undefined;
      }
      entries.set(key, e);
      return e.bytes;
    },
    put(key, version, bytes) {
      if (bytes.length > limits.each || storeVersion() !== version) return;
      drop(key);
      while (held + bytes.length > limits.total && entries.size > 0) drop(entries.keys().next().value as string);
      entries.set(key, { version, bytes });
      held += bytes.length;
    },
    fits: (bytes) => bytes <= limits.each,
  };
}

/** Who asked, as far as it decides what may be read: answers are kept per caller. */
function callerKey(c: Caller): string {
  return `${c.userId ?? ''}\u0000${c.role}\u0000${c.username}`;
}

/**
 * The cache's part of one read by a route: the kept answer to `request` of `kind` by `caller`, if any,
 * else how to keep the answer about to be made (null: keep nothing). The version is read here, before
 * the read, so that a write meanwhile leaves that answer unkept.
 */
export function lookupAnswer(answers: AnswerCache | null | undefined, kind: string, caller: Caller, request: unknown): { hit?: Buffer; keep: ((bytes: Buffer) => void) | null } {
  const version = answers?.version() ?? null;
  if (!answers || version === null) return { keep: null };
  const key = `${kind}\u0000${callerKey(caller)}\u0000${JSON.stringify(request)}`;
  return { hit: answers.get(key, version), keep: (bytes) => answers.put(key, version, bytes) };
}
