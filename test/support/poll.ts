import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Asks `probe` every 25 ms until `done` holds for its answer, which it returns; after `withinMs`
 * it throws with the last answer. For what another process or connection does in its own time.
 */
export async function until<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, what: string, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() >= deadline) throw new Error(`not within ${withinMs} ms: ${what}; last: ${JSON.stringify(value)}`);
    await sleep(25);
  }
}
