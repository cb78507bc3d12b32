import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { buildTestApp, type TestApp } from './helper.js';
import { checkRequest, requestArbitrary, type FuzzSeed, type RouteEntry } from './support/route-fuzz.js';
import { seedFuzzTarget, healFuzzTarget } from './support/route-fuzz-seed.js';

/** 10,000 in CI (about a minute on 2 cores); `node dist/bench/fuzz.js 100000` runs more. */
const CASES = Number(process.env.LABLOG_FUZZ_CASES ?? 10_000);

describe('fuzz: every route of the route table', () => {
  let t: TestApp;
  let seed: FuzzSeed;
  before(async () => {
    t = await buildTestApp();
    seed = await seedFuzzTarget(t);
  });
  after(() => t?.close());

  it(`${CASES} random requests: no 5xx, errors in MLflow's shape, rejected ones change nothing, no prototype pollution`, async () => {
    const routes = (t.app as unknown as { routeTable: RouteEntry[] }).routeTable;
    const byRoute = new Map<string, { sent: number; ok: number }>();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: routes.length - 1 }).chain((i) => requestArbitrary([routes[i]], seed).map((req) => ({ route: `${routes[i].method} ${routes[i].url}`, req }))), async ({ route: key, req }) => {
        const { failure, status } = await checkRequest(t.app, t.db, t.artifactsDir, req);
        if (failure) throw new Error(failure);
        const tally = byRoute.get(key) ?? { sent: 0, ok: 0 };
        tally.sent++;
        if (status < 400) tally.ok++;
        byRoute.set(key, tally);
        if (status < 400 && req.method !== 'GET' && req.method !== 'HEAD') await healFuzzTarget(t, seed);
      }),
      { numRuns: CASES, seed: Number(process.env.LABLOG_FUZZ_SEED ?? 20261207), endOnFailure: true },
    );
    // Coverage: every route was tried, and most answered a generated request with success at least
    // once, so the cases reached handlers and the store rather than only the schema checks.
    const unrouted = routes.map((r) => `${r.method} ${r.url}`).filter((k) => !byRoute.has(k));
    assert.deepEqual(unrouted, [], 'routes never tried');
    const reached = [...byRoute.values()].filter((x) => x.ok > 0).length;
    assert.ok(reached >= byRoute.size * 0.6, `only ${reached} of ${byRoute.size} routes ever answered with success`);
    const health = await t.app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
