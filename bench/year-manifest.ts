/**
 * DIR/bench-year.json: what bench/year.ts put in a data dir that bench/year-check.ts needs to find
 * (the experiments' ids, the big experiment, series of several lengths), so the check need not rebuild
 * the plan.
 */
import { CURVE_KEYS, SUMMARY_KEYS, type Plan } from './year-plan.js';
import { runContent, type ExperimentTraits } from './year-runs.js';

export const MANIFEST = 'bench-year.json';

export interface SeriesRef {
  runId: string;
  key: string;
  points: number;
}

export interface Manifest {
  seed: number;
  scale: number;
  experimentIds: string[];
  runs: number;
  points: number;
  artifacts: number;
  /** The experiment holding a tenth of the runs. */
  big: { experimentId: string; runs: number };
  /** One curve of an active run near each length of SAMPLE_LENGTHS, and the longest. */
  series: SeriesRef[];
}

const SAMPLE_LENGTHS = [100, 1_000, 10_000, 100_000];

/** The manifest's plan-derived part, for experiments already created under `ids`. */
export function sampleSeries(plan: Plan, traits: ExperimentTraits[], ids: string[]): Omit<Manifest, 'seed' | 'scale' | 'experimentIds'> {
  const lengths = [...SAMPLE_LENGTHS.filter((l) => l < plan.topLength), plan.topLength];
  const series: SeriesRef[] = [];
  for (const want of lengths) {
    // The curve closest to the wanted length whose run is active (deleted runs are passed over).
    const passed = new Set<number>();
    for (;;) {
      let c = -1;
      for (let k = 0; k < plan.curveLength.length; k++) {
        if (!passed.has(k) && (c < 0 || Math.abs(Math.log(plan.curveLength[k] / want)) < Math.abs(Math.log(plan.curveLength[c] / want)))) c = k;
      }
      const i = Math.floor(c / CURVE_KEYS.length);
      const e = plan.expOf[i];
      const { run } = runContent(plan, i, traits[e], ids[e]);
      if (run.lifecycleStage === 'active') {
        series.push({ runId: run.runUuid, key: CURVE_KEYS[c % CURVE_KEYS.length], points: plan.curveLength[c] });
        break;
      }
      passed.add(c);
    }
  }
  let points = 0;
  for (const l of plan.curveLength) points += l;
  return {
    runs: plan.runs,
    points: points + plan.runs * SUMMARY_KEYS.length,
    artifacts: plan.artifacts,
    big: { experimentId: ids[0], runs: plan.runsOf[0].length },
    series,
  };
}
