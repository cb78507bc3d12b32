// The route-table fuzz suite at bench size: `npm run build && node dist/bench/fuzz.js [CASES] [SEED]`
// (default 100,000 cases). CI runs the same generator and checks 10,000 times (test/fuzz-routes.test.ts).
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { buildTestApp } from '../test/helper.js';
import { checkRequest, requestArbitrary, type RouteEntry } from '../test/support/route-fuzz.js';
import { healFuzzTarget, seedFuzzTarget } from '../test/support/route-fuzz-seed.js';

const cases = Number(process.argv[2] ?? 100_000);
const seedValue = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const t = await buildTestApp();
const seed = await seedFuzzTarget(t);
const routes = (t.app as unknown as { routeTable: RouteEntry[] }).routeTable;
const statuses = new Map<number, number>();
const t0 = performance.now();
let done = 0;
try {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: routes.length - 1 }).chain((i) => requestArbitrary([routes[i]], seed)), async (req) => {
      const { failure, status } = await checkRequest(t.app, t.db, t.artifactsDir, req);
      if (failure) throw new Error(failure);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status < 400 && req.method !== 'GET' && req.method !== 'HEAD') await healFuzzTarget(t, seed);
      if (++done % 10_000 === 0) console.log(`${done} cases, ${Math.round(done / ((performance.now() - t0) / 1000))}/s`);
    }),
    { numRuns: cases, seed: seedValue, endOnFailure: true },
  );
  const health = await t.app.inject({ method: 'GET', url: '/health' });
  if (health.statusCode !== 200) throw new Error(`/health answered ${health.statusCode} after the run`);
  console.log(`fuzz: ${cases} cases over ${routes.length} routes, seed ${seedValue}: no 5xx, no changed rows or files on a rejected request, no pollution`);
  console.log(`  ${((performance.now() - t0) / 1000).toFixed(1)} s; statuses ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ')}`);
} catch (err) {
  console.error(`fuzz: FAILED after ${done} cases (seed ${seedValue}): ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await t.close();
}
