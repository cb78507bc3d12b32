import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ashaDecision, medianDecision, type Curve } from '../../server/sweeps/early-stop.js';
import { createRng } from '../../server/sweeps/rng.js';
import type { Goal } from '../../server/sweeps/types.js';

const curve = (points: Array<[number, number]>): Curve => ({
  steps: points.map((p) => p[0]),
  values: points.map((p) => p[1]),
});

/** Dense values at steps 0..n-1 as a Curve. */
const dense = (values: number[]): Curve => ({ steps: values.map((_, i) => i), values: [...values] });

describe('ASHA', () => {
  const RUNGS = [1, 3, 9, 27];
  const LAST_STEP = 27;

  /** What a trial logged: every step from 0 on, one per tick, at time tick·1000 + its index. */
  type Log = Array<{ step: number; value: number; time: number }>;

  const isBetter = (a: number, b: number, goal: Goal) =>
    !Number.isNaN(a) && (Number.isNaN(b) || (goal === 'minimize' ? a < b : a > b));

  /**
   * The stateless rule, written the plain way over dense logs: at the highest rung the trial reached,
   * it goes on iff fewer than max(1, floor(n/eta)) of the n logs that reached that rung with a number
   * there (its own included) are strictly better there.
   */
  function statelessReference(goal: Goal) {
    return (me: number, logs: Log[]): boolean => {
      const last = logs[me]!.length - 1;
      const reached = RUNGS.filter((r) => r <= last);
      if (reached.length === 0) return false;
      const rung = reached.at(-1)!;
      const mine = logs[me]![rung]!.value;
      if (Number.isNaN(mine)) return true;
      const competitors = logs
        .filter((l) => l.length - 1 >= rung)
        .map((l) => l[rung]!.value)
        .filter((v) => !Number.isNaN(v));
      const keep = Math.max(1, Math.floor(competitors.length / 3));
      return competitors.filter((v) => isBetter(v, mine, goal)).length >= keep;
    };
  }

  /**
   * Optuna's SuccessiveHalvingPruner as a stateful simulator: a trial records its value at a rung when
   * it first reaches it, and is compared, then and only then, with the values recorded there so far.
   */
  function optunaReference(goal: Goal) {
    const recorded: number[][] = []; // recorded[rung] = values of the trials that reached it
    const passed = new Map<number, number>(); // trial -> rungs already passed
    return (me: number, logs: Log[]): boolean => {
      const { step, value } = logs[me]!.at(-1)!;
      let rung = passed.get(me) ?? 0;
      while (rung < RUNGS.length && step >= RUNGS[rung]!) {
        if (Number.isNaN(value)) return true;
        (recorded[rung] ??= []).push(value);
        const field = recorded[rung]!;
        const keep = Math.max(1, Math.floor(field.length / 3));
        if (field.filter((v) => isBetter(v, value, goal)).length >= keep) return true;
        passed.set(me, ++rung);
      }
      return false;
    };
  }

  interface Stop {
    trial: number;
    step: number;
  }

  /**
   * Trials arrive every `gap` ticks in index order; each logs one step per tick (steps 0..27) and then
   * asks whether to stop; within a tick, lower indices go first. Returns who stopped at which step.
   */
  function simulate(
    fns: Array<(step: number) => number>,
    gap: number,
    decide: (me: number, logs: Log[]) => boolean,
  ): { stops: Stop[]; completed: number[] } {
    const logs: Log[] = fns.map(() => []);
    const done = fns.map(() => false);
    const stops: Stop[] = [];
    for (let tick = 0; done.some((d) => !d); tick++) {
      for (let i = 0; i < fns.length; i++) {
        if (done[i] || tick < i * gap) continue;
        const step = tick - i * gap;
        logs[i]!.push({ step, value: fns[i]!(step), time: tick * 1000 + i });
        if (decide(i, logs)) {
          stops.push({ trial: i, step });
          done[i] = true;
        } else if (step === LAST_STEP) done[i] = true;
      }
    }
    const stopped = new Set(stops.map((s) => s.trial));
    return { stops, completed: fns.map((_, i) => i).filter((i) => !stopped.has(i)) };
  }

  const toCurve = (log: Log, withTimes: boolean): Curve => ({
    steps: log.map((e) => e.step),
    values: log.map((e) => e.value),
    ...(withTimes ? { times: log.map((e) => e.time) } : {}),
  });

  const viaAsha = (goal: Goal, withTimes: boolean) => (me: number, logs: Log[]) =>
    ashaDecision({
      trial: toCurve(logs[me]!, withTimes),
      others: logs.filter((l, j) => j !== me && l.length > 0).map((l) => toCurve(l, withTimes)),
      goal,
      minIter: 1,
      eta: 3,
    }).stop;

  /** 27 seeded curves a + b·exp(−step/τ); 5 and 6 identical (a tie), 10 turns NaN at step 4. */
  function syntheticCurves(seed: number): Array<(step: number) => number> {
    const rng = createRng('asha-curves', seed);
    const fns: Array<(step: number) => number> = [];
    for (let i = 0; i < 27; i++) {
      const a = rng.uniform(0.05, 0.5);
      const b = rng.uniform(0.2, 1.5);
      const tau = rng.uniform(1, 15);
      fns.push((step) => a + b * Math.exp(-step / tau));
    }
    fns[6] = fns[5]!;
    // The best curve until it diverges, so the NaN, not a bad value, is what stops it.
    fns[10] = (step) => (step >= 4 ? NaN : 0.01 * Math.exp(-step));
    return fns;
  }

  it('stops the right trials on a synthetic set of learning curves (with times: as Optuna)', () => {
    const rungsStoppedAt = new Set<number>();
    for (const seed of [1, 2, 3]) {
      for (const gap of [0, 2, 5, 30]) {
        const fns = syntheticCurves(seed);
        const got = simulate(fns, gap, viaAsha('minimize', true));
        const want = simulate(fns, gap, optunaReference('minimize'));
        assert.deepEqual(got, want, `seed ${seed}, gap ${gap}`);

        // Decisions are final: a trial is only ever stopped on arrival at a rung.
        assert.ok(got.stops.every((s) => RUNGS.includes(s.step)), JSON.stringify(got.stops));
        got.stops.forEach((s) => rungsStoppedAt.add(s.step));
        // The NaN trial, the best until then, stops at the first rung past step 4.
        assert.deepEqual(got.stops.find((s) => s.trial === 10), { trial: 10, step: 9 });
        // The first trial to reach a rung always goes on, so trial 0 (never NaN) completes; and about
        // 1/eta of each rung's field is promoted, so most trials stop.
        assert.ok(got.completed.includes(0), `seed ${seed} gap ${gap}: ${got.completed}`);
        assert.ok(got.completed.length < 14, `${got.completed.length} completed`);
        // Identical curves: 6 meets at each rung what 5 met, plus 5's tie, so it never stops earlier.
        const five = got.stops.find((s) => s.trial === 5)?.step ?? Infinity;
        const six = got.stops.find((s) => s.trial === 6)?.step ?? Infinity;
        assert.ok(six >= five, `5 stopped at ${five}, 6 at ${six}`);
      }
    }
    assert.deepEqual([...rungsStoppedAt].sort((a, b) => a - b), [1, 3, 9]);
  });

  it('stops the right trials on a synthetic set of learning curves (without times: re-judged)', () => {
    const offRung: boolean[] = [];
    for (const seed of [1, 2, 3]) {
      for (const gap of [0, 2, 5, 30]) {
        const fns = syntheticCurves(seed);
        const got = simulate(fns, gap, viaAsha('minimize', false));
        assert.deepEqual(got, simulate(fns, gap, statelessReference('minimize')), `seed ${seed}, gap ${gap}`);
        got.stops.forEach((s) => offRung.push(!RUNGS.includes(s.step)));
        // When trials run one after another (gap > 27), nobody reaches a rung after the trial did, so
        // this is Optuna's decision too.
        if (gap === 30) assert.deepEqual(got, simulate(fns, gap, optunaReference('minimize')));
      }
    }
    // Concurrent trials were re-judged between rungs: some stopped at a step that is not a rung.
    assert.ok(offRung.includes(true));
  });

  it('without times re-judges a promoted trial until its next rung; with times its promotion is final', () => {
    // A reached rung 0 (step 1) first and alone; B, C, D reach it later, all better.
    const a: Curve = { steps: [0, 1, 2], values: [1, 0.9, 0.9], times: [0, 10, 50] };
    const later = [0.1, 0.2, 0.3].map((v, i): Curve => ({ steps: [1], values: [v], times: [20 + i] }));
    assert.equal(asha({ ...a, steps: [0, 1], values: [1, 0.9], times: [0, 10] }, later).stop, false, 'on arrival');
    const untimed: Curve = { steps: a.steps, values: a.values };
    assert.deepEqual(asha(untimed, later), {
      stop: true,
      reason: 'rung 0 (step 1): 0.9 is not in the best 1 of 4',
      rung: 0,
      step: 1,
    });
    assert.deepEqual(asha(a, later), { stop: false, reason: 'rung 0 (step 1): 0.9 is in the best 1 of 1', rung: 0, step: 1 });
    // A competitor that arrived at the same millisecond counts as earlier.
    assert.equal(asha(a, [{ steps: [1], values: [0.1], times: [10] }]).stop, true);
    // Arrival is the earliest time a step at or past the rung was logged, whatever the steps' order.
    assert.equal(asha(a, [{ steps: [1, 3], values: [0.1, 0.1], times: [40, 5] }]).stop, true);
    assert.equal(asha(a, [{ steps: [1, 3], values: [0.1, 0.1], times: [40, 15] }]).stop, false);
  });

  it('maximize mirrors minimize', () => {
    const fns = syntheticCurves(4);
    const negated = fns.map((f) => (step: number) => -f(step));
    for (const withTimes of [true, false]) {
      const min = simulate(fns, 2, viaAsha('minimize', withTimes));
      const max = simulate(negated, 2, viaAsha('maximize', withTimes));
      assert.deepEqual(max, min);
    }
    assert.deepEqual(simulate(negated, 2, viaAsha('maximize', true)), simulate(negated, 2, optunaReference('maximize')));
    assert.deepEqual(
      simulate(negated, 2, viaAsha('maximize', false)),
      simulate(negated, 2, statelessReference('maximize')),
    );
  });

  it('matches a hand-worked sequence: ties go on, NaN stops, trials stopped at a rung still count there', () => {
    // Logged at steps 0, 1, 3, 9, 27; trials run one after another.
    const table: Record<number, number>[] = [
      { 0: 2, 1: 1.0, 3: 0.8, 9: 0.6, 27: 0.5 }, // alone at every rung: goes on
      { 0: 2, 1: 0.9, 3: 0.7, 9: 0.65, 27: 0.55 }, // rung 2: 0.65 vs {0.6}: best 1 of 2 is 0.6 -> stops
      { 0: 2, 1: 0.9, 3: 0.75, 9: 0.1, 27: 0.1 }, // rung 0 ties 0.9 (best 1 of 3) -> on; rung 1: 0.75 vs 0.8, 0.7 -> stops
      { 0: 2, 1: NaN, 3: 0.1, 9: 0.1, 27: 0.1 }, // NaN at rung 0 -> stops
      { 0: 2, 1: 0.5, 3: 0.4, 9: 0.3, 27: 0.2 }, // best everywhere: goes on
    ];
    const curves: Curve[] = [];
    const stops: Array<[number, number, string]> = [];
    table.forEach((row, i) => {
      const points: Array<[number, number]> = [];
      for (const step of [0, 1, 3, 9, 27]) {
        points.push([step, row[step]!]);
        curves[i] = curve(points);
        const d = ashaDecision({ trial: curves[i]!, others: curves.slice(0, i), goal: 'minimize', minIter: 1, eta: 3 });
        if (d.stop) {
          stops.push([i, d.step!, d.reason]);
          break;
        }
      }
    });
    assert.deepEqual(stops, [
      [1, 9, 'rung 2 (step 9): 0.65 is not in the best 1 of 2'],
      [2, 3, 'rung 1 (step 3): 0.75 is not in the best 1 of 3'],
      [3, 1, 'rung 0 (step 1): the value is NaN'],
    ]);
  });

  const asha = (trial: Curve, others: Curve[], extra: Partial<{ goal: Goal; minIter: number; eta: number }> = {}) =>
    ashaDecision({ trial, others, goal: 'minimize', minIter: 1, eta: 3, ...extra });

  it('keeps the best floor(n/eta) and lets ties through', () => {
    // rung 2 (step 9), four competitors: keep 1.
    const others = [0.5, 0.6, 0.7].map((v) => curve([[9, v]]));
    assert.deepEqual(asha(curve([[9, 0.41]]), others), {
      stop: false,
      reason: 'rung 2 (step 9): 0.41 is in the best 1 of 4',
      rung: 2,
      step: 9,
    });
    assert.deepEqual(asha(curve([[9, 0.55]]), others), {
      stop: true,
      reason: 'rung 2 (step 9): 0.55 is not in the best 1 of 4',
      rung: 2,
      step: 9,
    });
    assert.equal(asha(curve([[9, 0.5]]), others).stop, false, 'a tie with the best goes on');
    // Six competitors: keep 2; the second best and its tie go on, the third does not.
    const five = [0.1, 0.2, 0.3, 0.4, 0.5].map((v) => curve([[3, v]]));
    assert.equal(asha(curve([[3, 0.2]]), five).stop, false);
    assert.equal(asha(curve([[3, 0.15]]), five).stop, false);
    assert.equal(asha(curve([[3, 0.25]]), five).stop, true);
    assert.match(asha(curve([[3, 0.25]]), five).reason, /best 2 of 6/);
  });

  it('with fewer competitors than eta, only the best goes on', () => {
    assert.equal(asha(curve([[1, 5]]), []).stop, false, 'alone');
    assert.equal(asha(curve([[1, 0.5]]), [curve([[1, 0.4]])]).stop, true);
    assert.equal(asha(curve([[1, 0.3]]), [curve([[1, 0.4]])]).stop, false);
    assert.match(asha(curve([[1, 0.3]]), [curve([[1, 0.4]])]).reason, /best 1 of 2$/);
  });

  it('leaves NaN competitors out of the field, and stops a NaN trial even alone', () => {
    const nans = [curve([[1, NaN]]), curve([[1, NaN]])];
    // Counted as worst they would make n = 3 and still keep 1; left out, n = 1.
    assert.match(asha(curve([[1, 1e9]]), nans).reason, /is in the best 1 of 1$/);
    // With 5 finite and 3 NaN competitors: n = 6, keep 2 (8 would keep 2 as well, 9 would keep 3).
    const five = [0.1, 0.2, 0.3, 0.4, 0.5].map((v) => curve([[1, v]]));
    const three = [...nans, curve([[1, NaN]])];
    assert.match(asha(curve([[1, 0.2]]), [...five, ...three]).reason, /best 2 of 6$/);
    assert.equal(asha(curve([[1, 0.25]]), [...five, ...three]).stop, true);
    assert.equal(asha(curve([[1, Infinity]]), nans).stop, false);
    assert.equal(asha(curve([[1, -1e9]]), nans, { goal: 'maximize' }).stop, false);
    assert.deepEqual(asha(curve([[1, NaN]]), []), {
      stop: true,
      reason: 'rung 0 (step 1): the value is NaN',
      rung: 0,
      step: 1,
    });
    // A curve that went NaN before the rung is valued NaN there, even though it was good earlier.
    assert.equal(asha(curve([[3, 0.9]]), [curve([[0, 0.1], [2, NaN], [5, 0.1]])]).stop, false);
  });

  it('maximize keeps the largest', () => {
    const others = [0.5, 0.6, 0.7].map((v) => curve([[1, v]]));
    assert.equal(asha(curve([[1, 0.8]]), others, { goal: 'maximize' }).stop, false);
    assert.equal(asha(curve([[1, 0.65]]), others, { goal: 'maximize' }).stop, true);
    assert.equal(asha(curve([[1, 0.7]]), others, { goal: 'maximize' }).stop, false);
  });

  it('goes on below the first rung', () => {
    const better = [curve([[0, 0], [5, 0]])];
    assert.deepEqual(asha(curve([[0, 99]]), better), {
      stop: false,
      reason: 'step 0 is below the first rung (step 1)',
      rung: null,
      step: null,
    });
    // min_iter 2, eta 2: rungs 2, 4, 8; step 1 is below.
    assert.equal(asha(curve([[1, 99]]), better, { minIter: 2, eta: 2 }).stop, false);
    assert.equal(asha(curve([[2, 99]]), better, { minIter: 2, eta: 2 }).stop, true);
    assert.equal(asha({ steps: [], values: [] }, better).stop, false);
  });

  it('judges only the highest rung reached', () => {
    // Worst of 4 at rung 0 (step 1) but best at rung 1 (step 3): at step 4 only rung 1 counts.
    const others = [
      curve([[1, 0.1], [3, 0.5]]),
      curve([[1, 0.2], [3, 0.6]]),
      curve([[1, 0.3], [3, 0.7]]),
    ];
    const trial = curve([[1, 0.9], [3, 0.2], [4, 0.2]]);
    assert.equal(asha(curve([[1, 0.9]]), others).stop, true, 'at step 1 it is judged at rung 0');
    const d = asha(trial, others);
    assert.deepEqual([d.stop, d.rung, d.step], [false, 1, 3]);
    // And the reverse: good at rung 0, bad at rung 1.
    assert.equal(asha(curve([[1, 0.0], [3, 0.9]]), others).stop, true);
  });

  it('values a curve at a rung by its last value at a step at or before it', () => {
    // Steps 0, 2, 4: at rung 1 (step 3) the value is the one of step 2; at step 2 the later log wins.
    const trial = curve([[0, 0.1], [2, 0.9], [2, 0.3], [4, 0.0]]);
    const rival = curve([[3, 0.5], [3, 0.35], [10, 0.0]]);
    assert.equal(asha(trial, [rival]).stop, false, '0.3 beats 0.35');
    assert.equal(asha(trial, [curve([[3, 0.35], [3, 0.25]])]).stop, true, '0.3 loses to 0.25');
    // Curves that have not reached the rung (no step >= 3) do not compete, however good.
    assert.equal(asha(trial, [curve([[0, 0], [2, 0]])]).stop, false);
    // Nor do curves with no value at or before it.
    assert.equal(asha(trial, [curve([[5, 0]])]).stop, false);
    // A trial whose first value comes after its highest rung has nothing to be judged on yet.
    assert.equal(asha(curve([[5, 99]]), [curve([[3, 0], [5, 0]])]).stop, false);
  });

  it('rejects rungs that would never grow', () => {
    assert.throws(() => asha(curve([[1, 1]]), [], { minIter: 0 }), /min_iter/);
    assert.throws(() => asha(curve([[1, 1]]), [], { eta: 1 }), /eta/);
  });
});

describe('median rule', () => {
  const median = (trial: Curve, finished: Curve[], extra: Partial<{ goal: Goal; minIter: number; minTrials: number }> = {}) =>
    medianDecision({ trial, finished, goal: 'minimize', minIter: 5, minTrials: 3, ...extra });
  // Finished curves whose best values up to step 5 are 0.2, 0.4, 0.6 (each is best earlier, then worse).
  const finished = [0.2, 0.4, 0.6].map((v) => curve([[0, 1], [3, v], [5, v + 0.5], [20, 0]]));

  it('waits for min_iter steps', () => {
    assert.deepEqual(median(dense([9, 9, 9, 9, 9]), finished), {
      stop: false,
      reason: 'step 4 is before min_iter 5',
      rung: null,
      step: null,
    });
    assert.equal(median(dense([9, 9, 9, 9, 9, 9]), finished).stop, true);
  });

  it('waits for min_trials finished trials', () => {
    assert.equal(median(dense([9, 9, 9, 9, 9, 9]), finished.slice(0, 2)).stop, false);
    assert.equal(median(dense([9, 9, 9, 9, 9, 9]), finished.slice(0, 2)).reason, 'only 2 finished trials, 3 needed');
    assert.equal(median(dense([9, 9, 9, 9, 9, 9]), finished.slice(0, 2), { minTrials: 2 }).stop, true);
  });

  it('stops only when strictly worse than the median of best-so-far values', () => {
    // The trial's best so far is its minimum over all steps, not its latest value.
    assert.deepEqual(median(dense([1, 0.4, 1, 1, 1, 1]), finished), {
      stop: false,
      reason: 'step 5: best 0.4 is not worse than the median 0.4 of 3 finished trials',
      rung: null,
      step: 5,
    });
    assert.deepEqual(median(dense([1, 0.41, 1, 1, 1, 1]), finished), {
      stop: true,
      reason: 'step 5: best 0.41 is worse than the median 0.4 of 3 finished trials',
      rung: null,
      step: 5,
    });
    // An even count takes the mean of the middle two: (0.4 + 0.6) / 2.
    const four = [...finished, curve([[1, 0.8]])];
    assert.equal(median(dense([1, 1, 1, 1, 1, 0.5]), four).stop, false);
    assert.equal(median(dense([1, 1, 1, 1, 1, 0.51]), four).stop, true);
    assert.match(median(dense([1, 1, 1, 1, 1, 0.51]), four).reason, /median 0\.5 of 4/);
  });

  it("uses only the finished curves' values up to the trial's step", () => {
    // At step 2 the finished curves' bests are 1, 1, 1 (their good values come at step 3).
    assert.equal(median(dense([0.9, 0.9, 0.9]), finished, { minIter: 0 }).stop, false);
    // Curves that start after the trial's step are skipped, not counted as missing.
    const late = [curve([[10, 0]]), curve([[10, 0]]), curve([[10, 0]])];
    assert.equal(median(dense([0.9, 0.9, 0.9]), [...finished, ...late], { minIter: 0 }).stop, false);
    assert.equal(median(dense([0.9, 0.9, 0.9]), late, { minIter: 0 }).stop, false);
  });

  it('maximize compares the other way', () => {
    const fin = [0.2, 0.4, 0.6].map((v) => curve([[5, v]]));
    assert.equal(median(curve([[5, 0.4]]), fin, { goal: 'maximize' }).stop, false);
    assert.equal(median(curve([[5, 0.39]]), fin, { goal: 'maximize' }).stop, true);
    assert.equal(median(curve([[5, 0.1], [5, 0.8], [6, 0.3]]), fin, { goal: 'maximize' }).stop, false);
  });

  it('counts only the last value logged at a step', () => {
    assert.equal(median(curve([[5, 0.1], [5, 0.5]]), finished).stop, true, '0.1 was overwritten by 0.5');
    assert.equal(median(curve([[5, 0.5], [5, 0.1]]), finished).stop, false);
    // The same for the finished curves: 0.2 at step 3 overwritten by 0.9 leaves bests 0.4, 0.6, 0.9.
    const fin = [curve([[3, 0.2], [3, 0.9]]), ...finished.slice(1)];
    assert.equal(median(curve([[5, 0.5]]), fin).stop, false);
    assert.equal(median(curve([[5, 0.61]]), fin).stop, true);
  });

  it('treats NaN as the worst value', () => {
    const fin = [curve([[5, NaN]]), curve([[5, NaN]]), curve([[5, 0.1]])];
    assert.equal(median(curve([[5, 1e6]]), fin).stop, false, 'median is NaN = worst');
    assert.equal(median(curve([[4, NaN], [5, 0.3]]), finished).stop, false, 'a NaN does not hide the best');
    assert.equal(median(curve([[5, NaN], [6, NaN]]), finished).stop, true, 'all NaN stops');
    assert.equal(median(curve([[5, NaN]]), fin).stop, true, 'all NaN stops even when others diverged too');
  });
});
