import type { ArtifactStore } from '../artifacts/types.js';
import { joinPath, proxiedRoot } from '../artifacts/paths.js';
import { invalid, notFound } from '../errors.js';
import type { GcExperiment, GcRun, TrackingStore } from '../store/types.js';

/** MLflow's clients expect the Default experiment to exist; gc purges its runs but never its row. */
const DEFAULT_EXPERIMENT_ID = '0';

export interface GcRequest {
  /** Only what was deleted (experiments: last updated) at least this many ms before `now`; null: any age. */
  olderThanMs: number | null;
  /** When both lists are empty, every deleted run and experiment (old enough) is selected. */
  runIds: string[];
  experimentIds: string[];
  dryRun: boolean;
  now: number;
}

export interface GcPlan {
  runs: GcRun[];
  experiments: GcExperiment[];
}

export type GcStatus = 'removed' | 'would-remove' | 'kept' | 'failed';

export interface GcOutcome {
  id: string;
  status: GcStatus;
  /** Bytes freed (or that would be); for an experiment, only what was left outside its runs' folders. */
  bytes: number;
  /** Why artifacts were not touched, or why the item was kept or failed. */
  note?: string;
}

export interface GcReport {
  dryRun: boolean;
  runs: (GcOutcome & { experimentId: string })[];
  experiments: (GcOutcome & { runs: number })[];
  bytes: number;
  failed: number;
}

export interface GcProgress {
  phase: 'runs' | 'experiments';
  done: number;
  total: number;
}

export interface GcDeps {
  store: TrackingStore;
  artifacts: ArtifactStore;
}

/**
 * Decides what gc removes, as MLflow's `mlflow gc` does, except that naming ids narrows the selection
 * to them (MLflow's gc also purges every other deleted run or experiment then). Every problem with
 * the named ids is reported at once, before anything is removed.
 */
export async function planGc(store: TrackingStore, req: GcRequest): Promise<GcPlan> {
  const cutoff = req.olderThanMs === null ? null : req.now - req.olderThanMs;
  const age = req.olderThanMs === null ? '' : ` Only what was deleted at least ${formatDuration(req.olderThanMs)} ago can be removed.`;
  if (req.runIds.length === 0 && req.experimentIds.length === 0) {
    const experiments = (await store.gcListDeletedExperiments(cutoff)).filter((e) => e.experimentId !== DEFAULT_EXPERIMENT_ID);
    const runs = [...(await store.gcListDeletedRuns(cutoff)), ...(await store.gcListExperimentRuns(experiments.map((e) => e.experimentId)))];
    return { runs: unique(runs), experiments };
  }

  // Unknown ids alone are RESOURCE_DOES_NOT_EXIST, as MLflow's lookups answer; anything else is invalid.
  const missing: string[] = [];
  const problems: string[] = [];
  const experiments = await store.gcGetExperiments(req.experimentIds);
  const foundExperiments = new Set(experiments.map((e) => e.experimentId));
  for (const id of req.experimentIds) if (!foundExperiments.has(id)) missing.push(`No Experiment with id=${id} exists.`);
  for (const e of experiments) {
    if (e.experimentId === DEFAULT_EXPERIMENT_ID) problems.push('The Default experiment (id 0) cannot be removed; only its deleted runs can.');
    else if (e.lifecycleStage !== 'deleted') {
      problems.push(`Experiment ${e.experimentId} is not in the deleted lifecycle stage. Only deleted experiments can be removed.`);
    } else if (cutoff !== null && e.lastUpdateTime > cutoff) problems.push(`Experiment ${e.experimentId} is not old enough.${age}`);
  }

  const named = await store.gcGetRuns(req.runIds);
  const foundRuns = new Set(named.map((r) => r.runId));
  for (const id of req.runIds) if (!foundRuns.has(id)) missing.push(`Run with id=${id} not found.`);
  for (const r of named) {
    if (r.lifecycleStage !== 'deleted') problems.push(`Run ${r.runId} is not in the deleted lifecycle stage. Only deleted runs can be removed.`);
    else if (cutoff !== null && r.deletedTime > cutoff) problems.push(`Run ${r.runId} is not old enough.${age}`);
  }
  if (problems.length > 0) throw invalid([...missing, ...problems].join('\n'));
  if (missing.length > 0) throw notFound(missing.join('\n'));
  const runs = [...named, ...(await store.gcListExperimentRuns(experiments.map((e) => e.experimentId)))];
  return { runs: unique(runs), experiments };
}

/** Removes what the plan names: each run's rows in a transaction, then its folder; experiments last. */
export async function executeGc(deps: GcDeps, plan: GcPlan, opts: { dryRun: boolean; onProgress?: (p: GcProgress) => void }): Promise<GcReport> {
  const report: GcReport = { dryRun: opts.dryRun, runs: [], experiments: [], bytes: 0, failed: 0 };
  // Bytes of run folders already counted, so that a dry run does not count them again in their experiment's folder.
  const counted = new Map<string, number>();
  for (const [i, run] of plan.runs.entries()) {
    const outcome = await purgeRun(deps, run, opts.dryRun, counted);
    report.runs.push({ ...outcome, experimentId: run.experimentId });
    opts.onProgress?.({ phase: 'runs', done: i + 1, total: plan.runs.length });
  }
  for (const [i, exp] of plan.experiments.entries()) {
    const mine = report.runs.filter((r) => r.experimentId === exp.experimentId);
    const outcome = await purgeExperiment(deps, exp, mine, opts.dryRun, counted);
    report.experiments.push({ ...outcome, runs: mine.length });
    opts.onProgress?.({ phase: 'experiments', done: i + 1, total: plan.experiments.length });
  }
  for (const o of [...report.runs, ...report.experiments]) {
    report.bytes += o.bytes;
    if (o.status === 'failed') report.failed++;
  }
  return report;
}

export async function collectGarbage(deps: GcDeps, req: GcRequest, onProgress?: (p: GcProgress) => void): Promise<GcReport> {
  return executeGc(deps, await planGc(deps.store, req), { dryRun: req.dryRun, onProgress });
}

async function purgeRun(deps: GcDeps, run: GcRun, dryRun: boolean, counted: Map<string, number>): Promise<GcOutcome> {
  const id = run.runId;
  const folders = runFolders(run);
  if (dryRun) {
    try {
      const bytes = await sumTrees(deps.artifacts, folders.dirs, counted);
      return { id, status: 'would-remove', bytes: bytes ?? 0, note: folders.note ?? (bytes === null ? 'no artifact folder' : undefined) };
    } catch (err) {
      return { id, status: 'failed', bytes: 0, note: `could not measure its artifact folder: ${message(err)}` };
    }
  }
  try {
    // Rows first: if gc dies before the folder goes, what is left is a folder no run points to
    // (harmless), never a restorable run with half of its artifacts.
    if (!(await deps.store.hardDeleteRun(id))) return { id, status: 'kept', bytes: 0, note: 'it is no longer in the deleted stage' };
  } catch (err) {
    return { id, status: 'failed', bytes: 0, note: message(err) };
  }
  let bytes = 0;
  let existed = false;
  for (const dir of folders.dirs) {
    try {
      const r = await deps.artifacts.removeTree(dir);
      bytes += r.bytes;
      existed ||= r.existed;
    } catch (err) {
      return { id, status: 'failed', bytes, note: `its rows were removed but not its artifact folder '${dir}': ${message(err)}` };
    }
  }
  return { id, status: 'removed', bytes, note: folders.note ?? (existed ? undefined : 'no artifact folder') };
}

async function purgeExperiment(
  deps: GcDeps,
  exp: GcExperiment,
  runs: GcOutcome[],
  dryRun: boolean,
  counted: Map<string, number>,
): Promise<GcOutcome> {
  const id = exp.experimentId;
  const left = runs.filter((r) => r.status === 'failed' || r.status === 'kept').length;
  if (left > 0) return { id, status: 'failed', bytes: 0, note: `${left} of its runs could not be removed` };
  const folder = experimentFolder(exp);
  try {
    if (dryRun) {
      const total = folder.dir === null ? 0 : ((await treeBytes(deps.artifacts, folder.dir)) ?? 0);
      const inRuns = [...counted].filter(([dir]) => folder.dir !== null && dir.startsWith(`${folder.dir}/`));
      return { id, status: 'would-remove', bytes: total - inRuns.reduce((n, [, b]) => n + b, 0), note: folder.note };
    }
    // Folder before row: SQLite hands the highest id out again, so a folder left behind by a crash
    // could be inherited by the next new experiment. A deleted, empty experiment row left instead is
    // harmless and the next gc finishes it. A restore that came in meanwhile keeps its folder.
    const [now] = await deps.store.gcGetExperiments([id]);
    if (now?.lifecycleStage !== 'deleted') return { id, status: 'kept', bytes: 0, note: 'it is no longer in the deleted stage' };
    const removed = folder.dir === null ? { bytes: 0 } : await deps.artifacts.removeTree(folder.dir);
    if (!(await deps.store.hardDeleteExperiment(id))) return { id, status: 'kept', bytes: removed.bytes, note: 'it is no longer in the deleted stage' };
    return { id, status: 'removed', bytes: removed.bytes, note: folder.note };
  } catch (err) {
    return { id, status: 'failed', bytes: 0, note: message(err) };
  }
}

/**
 * The folders that belong to a run alone: its artifact root and, when that is the standard
 * `<experiment>/<run_id>/artifacts`, the run directory around it. A root that does not name the run
 * might be shared, so it is left alone.
 */
function runFolders(run: GcRun): { dirs: string[]; note?: string } {
  let root: string | null;
  try {
    root = proxiedRoot(run.artifactUri);
  } catch {
    return { dirs: [], note: `artifact URI '${run.artifactUri}' is not a safe path; left in place` };
  }
  if (root === null) return { dirs: [], note: `artifacts at '${run.artifactUri}' are not stored by lablog; left in place` };
  const segments = root.split('/');
  if (!segments.includes(run.runId)) return { dirs: [], note: `artifact folder '${root}' does not name the run; left in place` };
  const dirs = [root];
  if (segments.length >= 2 && segments.at(-1) === 'artifacts' && segments.at(-2) === run.runId) dirs.push(segments.slice(0, -1).join('/'));
  return { dirs };
}

/** The experiment's own folder, only in the standard layout `<experiment_id>`: a custom location may be shared. */
function experimentFolder(exp: GcExperiment): { dir: string | null; note?: string } {
  let root: string | null = null;
  try {
    root = proxiedRoot(exp.artifactLocation);
  } catch {
    // An unsafe location is treated like a foreign one.
  }
  if (root === exp.experimentId) return { dir: root };
  return { dir: null, note: `artifact location '${exp.artifactLocation}' is not lablog's own folder for it; left in place` };
}

/** Bytes in the first existing of nested `dirs` (the outer one includes the inner); null when none exists. */
async function sumTrees(artifacts: ArtifactStore, dirs: string[], counted: Map<string, number>): Promise<number | null> {
  for (const dir of [...dirs].reverse()) {
    const b = await treeBytes(artifacts, dir);
    if (b === null) continue;
    counted.set(dir, b);
    return b;
  }
  return null;
}

/** What removeTree would report, measured through the interface; null when nothing is there. */
export async function treeBytes(artifacts: ArtifactStore, dir: string): Promise<number | null> {
  const file = await artifacts.stat(dir);
  if (file) return file.size;
  const entries = await artifacts.list(dir);
  if (entries === null) return null;
  let total = 0;
  for (const e of entries) total += e.isDir ? ((await treeBytes(artifacts, joinPath(dir, e.name))) ?? 0) : (e.size ?? 0);
  return total;
}

/** 694800000 -> "8d1h"; the --older-than notation. */
export function formatDuration(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) out += `${n}${unit}`;
  }
  return out === '' ? `${ms}ms` : out + (rest > 0 ? `${rest}ms` : '');
}

function unique(runs: GcRun[]): GcRun[] {
  const seen = new Set<string>();
  return runs.filter((r) => !seen.has(r.runId) && (seen.add(r.runId), true));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
