import { NotYetOnPostgresError } from '../../errors.js';
import type { TrackingStore } from '../types.js';

/**
 * The TrackingStore methods the PostgreSQL store does not have yet (issue #13 landed it in slices;
 * none is left): each rejects with NotYetOnPostgresError (501) naming itself, so a client learns
 * what is missing instead of meeting a crash or a wrong answer. A method added to TrackingStore
 * before its PostgreSQL version is listed here.
 */
export const NOT_YET_ON_POSTGRES = [] as const satisfies readonly (keyof TrackingStore)[];

export type NotYetOnPostgres = (typeof NOT_YET_ON_POSTGRES)[number];

export function notYetOnPostgres(): Pick<TrackingStore, NotYetOnPostgres> {
  const out: Record<string, () => Promise<never>> = {};
  for (const name of NOT_YET_ON_POSTGRES) out[name] = () => Promise.reject(new NotYetOnPostgresError(name));
  return out as unknown as Pick<TrackingStore, NotYetOnPostgres>;
}
