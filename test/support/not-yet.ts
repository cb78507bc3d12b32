import { NOT_YET_ON_POSTGRES } from '../../server/store/postgres/not-yet.js';
import type { TrackingStore } from '../../server/store/types.js';
import type { Backend } from '../helper.js';

/**
 * A skip reason for a test that needs `method` while the PostgreSQL store does not have it yet
 * (false: run it). The test starts running on PostgreSQL by itself once the method is ported.
 */
export function needs(backend: Backend, ...methods: (keyof TrackingStore)[]): string | false {
  const missing = backend === 'postgres' ? methods.filter((m) => (NOT_YET_ON_POSTGRES as readonly string[]).includes(m)) : [];
  return missing.length > 0 ? `${missing.join(', ')} not yet on PostgreSQL` : false;
}
