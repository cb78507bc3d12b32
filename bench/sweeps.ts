// Sweeps: the Bayesian sampler (TPE) against random search on three standard objectives, 50 trials ×
// 20 seeds each. Pure computation, no server: `node dist/bench/sweeps.js`, or part of bench/all.ts.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { sampleRandom } from '../server/sweeps/random.js';
import { createRng } from '../server/sweeps/rng.js';
import { suggestTpe } from '../server/sweeps/tpe.js';
import type { Assignment, Param, Space, TrialRecord } from '../server/sweeps/types.js';
import { log, machineInfo, markdownTable, QUICK, textTable, type Ctx, type Figure, type Outcome } from './lib.js';

const TRIALS = QUICK ? 20 : 50;
const SEEDS = QUICK ? 4 : 20;

const uniform = (name: string, min: number, max: number): Param => ({ name, when: null, kind: 'uniform', min, max });
const num = (a: Assignment, name: string) => a[name] as number;

interface Problem {
  name: string;
  space: Space;
  /** The known minimum of the noise-free objective. */
  optimum: number;
  /** The noise-free objective. */
  f(a: Assignment): number;
  /** Gaussian noise added to what the sampler sees (0: none). */
  noise: number;
}

function branin(a: Assignment): number {
  const x1 = num(a, 'x1');
  const x2 = num(a, 'x2');
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

const H6_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H6_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H6_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((p) => p * 1e-4));

function hartmann6(a: Assignment): number {
  let sum = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < 6; j++) inner += H6_A[i]![j]! * (num(a, `x${j + 1}`) - H6_P[i]![j]!) ** 2;
    sum += H6_ALPHA[i]! * Math.exp(-inner);
  }
  return -sum;
}

const PROBLEMS: Problem[] = [
  { name: 'Branin (2-D)', space: [uniform('x1', -5, 10), uniform('x2', 0, 15)], optimum: 0.397887, f: branin, noise: 0 },
  { name: 'Hartmann-6 (6-D)', space: [1, 2, 3, 4, 5, 6].map((j) => uniform(`x${j}`, 0, 1)), optimum: -3.32237, f: hartmann6, noise: 0 },
  {
    name: 'noisy log-lr quadratic (2-D, σ 0.1)',
    space: [{ name: 'lr', when: null, kind: 'log_uniform', min: 1e-6, max: 1 }, uniform('momentum', 0, 0.99)],
    optimum: 0,
    f: (a) => (Math.log10(num(a, 'lr')) + 2.5) ** 2 + (num(a, 'momentum') - 0.9) ** 2,
    noise: 0.1,
  },
];

interface SearchResult {
  /** The best value the sampler saw (noisy where the problem is). */
  best: number;
  /** The noise-free value of that trial: what picking it is really worth. */
  bestTrue: number;
  suggestMs: number[];
}

/**
 * One search. The sampler's rng for trial i is the same stream for both methods (so their first
 * n_startup_trials coincide), and so is the noise of trial i.
 */
function search(problem: Problem, method: 'tpe' | 'random', seed: number): SearchResult {
  const history: TrialRecord[] = [];
  const truths: number[] = [];
  const suggestMs: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const rng = createRng('bench-sweeps', problem.name, seed, i);
    let params: Assignment;
    if (method === 'tpe') {
      const t0 = performance.now();
      params = suggestTpe(problem.space, history, { goal: 'minimize', rng });
      suggestMs.push(performance.now() - t0);
    } else {
      params = sampleRandom(problem.space, rng);
    }
    const truth = problem.f(params);
    const value = problem.noise ? truth + createRng('bench-noise', seed, i).normal(0, problem.noise) : truth;
    history.push({ params, state: 'complete', value, step: 0 });
    truths.push(truth);
  }
  let bestIndex = 0;
  for (let i = 1; i < history.length; i++) if (history[i]!.value! < history[bestIndex]!.value!) bestIndex = i;
  return { best: history[bestIndex]!.value!, bestTrue: truths[bestIndex]!, suggestMs };
}

/** Linear-interpolated quantile (the median of an even count is the mean of the middle two). */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const g = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));

export async function run(_ctx?: Ctx): Promise<Outcome> {
  const rows: string[][] = [];
  let won = 0;
  let compared = 0;
  const allMs: number[] = [];
  for (const problem of PROBLEMS) {
    const tpe: SearchResult[] = [];
    const random: SearchResult[] = [];
    for (let seed = 0; seed < SEEDS; seed++) {
      tpe.push(search(problem, 'tpe', seed));
      random.push(search(problem, 'random', seed));
    }
    const ms = tpe.flatMap((r) => r.suggestMs.slice(10));
    allMs.push(...ms);
    // For the noisy problem the honest measure is what the chosen trial is really worth; the best
    // observed value is shown too, since that is what a sweep reports.
    const measures: Array<[string, (r: SearchResult) => number]> = problem.noise
      ? [
          ['true value of best trial', (r) => r.bestTrue],
          ['best observed (noisy)', (r) => r.best],
        ]
      : [['', (r) => r.best]];
    for (const [label, pick] of measures) {
      const name = `${problem.name}${label ? `: ${label}` : ''}`;
      const t = tpe.map(pick);
      const r = random.map(pick);
      const beat = t.filter((v, i) => v < r[i]!).length / SEEDS;
      for (const [method, values] of [['TPE', t], ['random', r]] as const) {
        rows.push([
          name,
          String(problem.optimum),
          method,
          g(quantile(values, 0.5)),
          `${g(quantile(values, 0.25))} .. ${g(quantile(values, 0.75))}`,
          g(mean(values)),
          method === 'TPE' ? `${(beat * 100).toFixed(0)} % of seeds` : '',
          method === 'TPE' ? mean(ms).toFixed(3) : '',
        ]);
      }
      compared++;
      if (quantile(t, 0.5) < quantile(r, 0.5)) won++;
    }
  }
  console.log('');
  console.log(`### Sweeps: TPE vs random search, ${TRIALS} trials x ${SEEDS} seeds per problem (lower is better)`);
  console.log('');
  console.log(textTable(['problem', 'optimum', 'method', 'median best', 'IQR (q1 .. q3)', 'mean best', 'TPE beat random', 'ms / TPE suggestion'], rows));
  console.log('');
  console.log(
    'TPE: Optuna default settings (n_startup_trials 10, n_ei_candidates 24); trial i of seed s draws from the same rng stream in ' +
      'both methods, so the first 10 trials coincide. "TPE beat random": seeds where TPE\'s best is strictly lower. ' +
      'ms / TPE suggestion: mean over the problem\'s TPE suggestions after the 10 random startup ones.',
  );
  log(`sweeps: TPE median better than random on ${won} of ${compared} measures`);
  const figures: Figure[] = [
    { id: 'T1', name: 'sweeps: measures where TPE beats random search on the median', value: won, unit: `of ${compared}`, target: { op: '>=', value: compared } },
    { id: 'T2', name: 'sweeps: time per TPE suggestion (2-6 params, <= 50 trials)', value: mean(allMs), unit: 'ms', note: `mean of ${allMs.length} suggestions` },
  ];
  return { figures, points: 0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(machineInfo());
  const out = await run();
  console.log('');
  console.log(markdownTable(out.figures));
}
