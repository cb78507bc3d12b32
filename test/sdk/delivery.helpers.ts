import assert from 'node:assert/strict';
import type { Run } from 'lablog-client';
import type { CountingProxy, Seen } from './counting-proxy.js';
import { metricHistory } from './sdk.helpers.js';

// What the delivery tests (delivery.test.ts, faults.test.ts) log and check: a known value per key and
// step, every step exactly once, each key's steps sent in order, retries that resend the same body.

export const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
export const value = (key: number, step: number) => Math.sin(step * 0.001 + key) * 1000 + key;

/** Every key has each step in [0, steps) exactly once, with its value. */
export async function assertExactlyOnce(url: string, runId: string, keys: string[], steps: number) {
  for (const [k, key] of keys.entries()) {
    const points = await metricHistory(url, runId, key);
    const bySteps = new Map<number, number>();
    for (const p of points) {
      assert.ok(!bySteps.has(p.step), `${key} step ${p.step} stored twice`);
      bySteps.set(p.step, p.value);
    }
    assert.equal(points.length, steps, `${key}: ${points.length} points stored, ${steps} logged`);
    for (let s = 0; s < steps; s++) assert.equal(bySteps.get(s), value(k, s), `${key} step ${s}`);
  }
}

/** Steps of each key, in the order the server first received them (replays of a key left out). */
export function assertFifo(p: CountingProxy, runId: string) {
  const keys = new Set<string>();
  const last = new Map<string, number>();
  for (const r of p.logBatches()) {
    if (r.batch!.run_id !== runId) continue;
    const key = r.headers['idempotency-key'] as string;
    assert.ok(key, 'every log-batch carries an Idempotency-Key');
    if (keys.has(key)) continue;
    keys.add(key);
    for (const m of r.batch!.metrics ?? []) {
      assert.ok((last.get(m.key) ?? -1) < m.step, `${m.key}: step ${m.step} sent after ${last.get(m.key)}`);
      last.set(m.key, m.step);
    }
  }
}

export async function logSteps(run: Run, keys: string[], from: number, to: number, every?: (step: number) => Promise<void>) {
  for (let s = from; s < to; s++) {
    const m: Record<string, number> = {};
    for (const [k, key] of keys.entries()) m[key] = value(k, s);
    run.log(m, { step: s });
    if (s % 1000 === 999) {
      await yieldToLoop();
      await every?.(s);
    }
  }
}

/** Every retry of a log-batch (the same Idempotency-Key) sent the same body. Returns how many keys were retried. */
export function assertRetriesResendSameBody(requests: Seen[]): number {
  const byKey = new Map<string, string>();
  let retried = 0;
  for (const r of requests) {
    if (!r.batch) continue;
    const key = r.headers['idempotency-key'] as string;
    const body = r.body.toString();
    if (byKey.has(key)) {
      assert.equal(byKey.get(key), body, 'a retry sends the same body under the same key');
      retried++;
    }
    byKey.set(key, body);
  }
  return retried;
}
