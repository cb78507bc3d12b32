import { createHash } from 'node:crypto';
import { digestInputs, digestKeyValues, digestSeries } from '../import/checksum.js';
import type { Run, TrackingStore } from '../store/types.js';

/** A checksum of everything a client reads back about one run: its info, params, tags, inputs and every metric point. */
export async function runChecksum(store: TrackingStore, runId: string): Promise<{ points: number; sha256: string }> {
  const run: Run = await store.getRun(runId);
  const h = createHash('sha256');
  const i = run.info;
  h.update(JSON.stringify([i.runId, i.experimentId, i.runName, i.userId, i.status, i.startTime, i.endTime, i.lifecycleStage, i.artifactUri]));
  for (const d of [digestKeyValues(run.data.params), digestKeyValues(run.data.tags), digestInputs(run.inputs.datasetInputs)]) h.update(`\n${d.count}:${d.sha256}`);
  let points = 0;
  for (const key of run.data.metrics.map((m) => m.key).sort()) {
    const d = digestSeries((await store.getMetricHistory({ runId, key, offset: 0, limit: null })).points);
    points += d.count;
    h.update(`\n${JSON.stringify(key)}:${d.count}:${d.sha256}`);
  }
  return { points, sha256: h.digest('hex') };
}

export interface RunMismatch {
  runId: string;
  what: string;
}

/** Compares every run's checksum on both stores; `onRun` reports progress. */
export async function verifyRuns(
  from: TrackingStore,
  to: TrackingStore,
  runIds: string[],
  onRun: (done: number) => void,
): Promise<{ points: number; mismatches: RunMismatch[] }> {
  const mismatches: RunMismatch[] = [];
  let points = 0;
  for (const [n, runId] of runIds.entries()) {
    const src = await runChecksum(from, runId);
    points += src.points;
    let dst: { points: number; sha256: string } | null = null;
    try {
      dst = await runChecksum(to, runId);
    } catch (err) {
      mismatches.push({ runId, what: `unreadable in the target: ${(err as Error).message}` });
    }
    if (dst && (dst.points !== src.points || dst.sha256 !== src.sha256)) {
      mismatches.push({ runId, what: `source ${src.points} points (sha256 ${src.sha256.slice(0, 12)}), target ${dst.points} points (sha256 ${dst.sha256.slice(0, 12)})` });
    }
    onRun(n + 1);
  }
  return { points, mismatches };
}
