import type { AuthChange } from './auth-types.js';

export const ANYONE: AuthChange = { userId: null, what: 'user' };
export const userChanged = (userId: number): AuthChange => ({ userId, what: 'user' });
export const permissionsChanged = (userId: number): AuthChange => ({ userId, what: 'permissions' });

/** The listeners of one store's auth changes; the store decides when to `emit`. */
export function createAuthFeed() {
  const listeners = new Set<(change: AuthChange) => void>();
  return {
    onAuthChanged(listener: (change: AuthChange) => void): () => void {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emit(change: AuthChange): void {
      for (const listener of listeners) listener(change);
    },
  };
}

export type AuthFeed = ReturnType<typeof createAuthFeed>;
