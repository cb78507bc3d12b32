import { randomBytes } from 'node:crypto';
import type { TrackingStore } from '../store/types.js';
import { hashPassword } from './secrets.js';

/**
 * Creates the first admin when there are no users yet (no self sign-up: every other user is made by an
 * admin). Answers the password when it was generated, for the caller to show once.
 */
export async function ensureFirstAdmin(store: TrackingStore, username: string, password: string | undefined, now: number): Promise<{ created: boolean; generated: string | null }> {
  if ((await store.countUsers()) > 0) return { created: false, generated: null };
  const secret = password ?? randomBytes(18).toString('base64url');
  try {
    await store.createUser({ username, passwordHash: await hashPassword(secret), role: 'admin', authSource: 'local', now });
  } catch {
    // Another process made the first user meanwhile.
    return { created: false, generated: null };
  }
  return { created: true, generated: password === undefined ? secret : null };
}
