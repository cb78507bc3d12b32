import { prng } from '../support/prng.js';
import type { Fault } from './counting-proxy.js';

// Which fault the proxy injects into its i-th request, drawn from a seeded PRNG in request order: the
// same seed gives the same faults at the same request numbers on every run (never a timer). A 503 opens
// a burst: the next requests are answered 503 too.

export const FAULTS: readonly Fault[] = ['reset', 'hang', 'drop-after', 'hang-after', 'truncate', 503];

export interface FaultPlan {
  /** The fault for request number `index` (0-based), or undefined. */
  at(index: number): Fault | undefined;
}

/** `rate`: the share of requests that start a fault; a 503 burst is 1 to `maxBurst` requests long. */
export function faultPlan(seed: number, rate: number, maxBurst = 5): FaultPlan {
  const rand = prng(seed);
  const plan: (Fault | undefined)[] = [];
  let burst = 0;
  const next = (): Fault | undefined => {
    if (burst > 0) {
      burst--;
      return 503;
    }
    if (rand() >= rate) return undefined;
    const fault = FAULTS[Math.floor(rand() * FAULTS.length)];
    if (fault === 503) burst = Math.floor(rand() * maxBurst);
    return fault;
  };
  return {
    at(index) {
      while (plan.length <= index) plan.push(next());
      return plan[index];
    },
  };
}
