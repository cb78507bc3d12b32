import type { ArtifactStore } from '../artifacts/types.js';
import type { TrackingStore } from '../store/types.js';
import type { SourceClient } from './source.client.js';
import type { SourceExperiment, SourceRun } from './source.wire.js';

export type Phase = 'experiments' | 'runs' | 'metrics' | 'artifacts' | 'registry' | 'verify';

/** Progress of one phase: `done` of `total` items (runs, experiments), with a short detail. */
export interface ImportProgress {
  phase: Phase;
  done: number;
  total: number;
  detail?: string;
}

export interface ImportOptions {
  /** Experiment names to copy; empty: all (active and deleted). */
  experiments: string[];
  /** Only runs started at or after this time (ms). */
  since: number | null;
  /** Runs handled at once in the metrics and artifacts phases. */
  concurrency?: number;
  onProgress?: (p: ImportProgress) => void;
  /** Something was skipped (an artifact the server cannot fetch, a path lablog refuses). */
  onWarning?: (message: string) => void;
}

export interface ImportContext {
  source: SourceClient;
  store: TrackingStore;
  artifacts: ArtifactStore;
  options: ImportOptions;
  summary: ImportSummary;
}

export interface Count {
  created: number;
  present: number;
}

/** What the import wrote (created) and found already in place (present), per kind. */
export interface ImportSummary {
  experiments: Count;
  runs: Count;
  params: Count;
  tags: Count;
  metricPoints: Count;
  datasets: Count;
  artifactFiles: Count;
  artifactBytes: Count;
  models: Count;
  modelVersions: Count;
  aliases: Count;
  warnings: string[];
}

export const emptySummary = (): ImportSummary => ({
  experiments: { created: 0, present: 0 },
  runs: { created: 0, present: 0 },
  params: { created: 0, present: 0 },
  tags: { created: 0, present: 0 },
  metricPoints: { created: 0, present: 0 },
  datasets: { created: 0, present: 0 },
  artifactFiles: { created: 0, present: 0 },
  artifactBytes: { created: 0, present: 0 },
  models: { created: 0, present: 0 },
  modelVersions: { created: 0, present: 0 },
  aliases: { created: 0, present: 0 },
  warnings: [],
});

export const addCount = (into: Count, c: Count) => {
  into.created += c.created;
  into.present += c.present;
};

/** A source experiment and where it landed. */
export interface MappedExperiment {
  source: SourceExperiment;
  lablogId: string;
}

/** A source run and the lablog artifact URI it got (its id is the same on both sides). */
export interface MappedRun {
  source: SourceRun;
  runId: string;
  artifactUri: string;
}

/** Runs `work` over `items` with at most `limit` at once, in order of start. */
export async function pool<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Something was left out: it goes into the summary (and makes the command exit 1) and is reported now. */
export function warn(ctx: ImportContext, message: string): void {
  ctx.summary.warnings.push(message);
  ctx.options.onWarning?.(message);
}
