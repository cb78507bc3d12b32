import { joinPath, proxiedRoot } from '../artifacts/paths.js';
import type { ArtifactStore } from '../artifacts/types.js';
import { walkFiles } from '../artifacts/walk.js';
import type { DatasetInput, Run } from '../store/types.js';
import { downloadSourceArtifact, listSourceArtifacts } from './artifacts.phase.js';
import { digestInputs, digestKeyValues, digestSeries, digestStream, sameDigest, type Digest } from './checksum.js';
import { experimentsInScope } from './experiments.phase.js';
import { pool, type ImportContext } from './import.types.js';
import { fetchHistory } from './metrics.phase.js';
import { listSourceRuns } from './runs.phase.js';
import { runIdOf, runNameOf, type SourceRun } from './source.wire.js';
import { verifyRegistry } from './verify-registry.js';

export interface Mismatch {
  /** The run's id, or `experiment <name>` for an experiment-level difference. */
  subject: string;
  what: string;
}

export interface VerifyReport {
  experiments: number;
  runs: number;
  metricPoints: number;
  artifactFiles: number;
  models: number;
  modelVersions: number;
  mismatches: Mismatch[];
}

const show = (d: Digest) => `${d.count} (sha256 ${d.sha256.slice(0, 12)})`;

/**
 * `--verify`: reads both sides and compares, per run, its info, the counts and a SHA-256 of its params,
 * tags, dataset inputs, each metric's every point, and each artifact file's size and SHA-256. Writes
 * nothing. Every difference is reported with the run it concerns. Then the registry (verify-registry.ts).
 */
export async function verifyImport(ctx: ImportContext): Promise<VerifyReport> {
  const report: VerifyReport = { experiments: 0, runs: 0, metricPoints: 0, artifactFiles: 0, models: 0, modelVersions: 0, mismatches: [] };
  const runs: SourceRun[] = [];
  for (const e of await experimentsInScope(ctx.source, ctx.options.experiments)) {
    report.experiments++;
    const mine = await ctx.store.getExperimentByName(e.name);
    if (!mine) {
      report.mismatches.push({ subject: `experiment ${e.name}`, what: 'missing in lablog' });
      continue;
    }
    const src = digestKeyValues(e.tags);
    const dst = digestKeyValues(mine.tags);
    if (!sameDigest(src, dst)) report.mismatches.push({ subject: `experiment ${e.name}`, what: `tags: source ${show(src)}, lablog ${show(dst)}` });
    if (e.lifecycle_stage !== mine.lifecycleStage) report.mismatches.push({ subject: `experiment ${e.name}`, what: `stage: source ${e.lifecycle_stage}, lablog ${mine.lifecycleStage}` });
    runs.push(...(await listSourceRuns(ctx.source, e.experiment_id, ctx.options.since)));
  }
  let done = 0;
  let found = 0;
  // Reported in the source's run order, whichever run finished first.
  const perRun: Mismatch[][] = [];
  await pool(runs, ctx.options.concurrency ?? 4, async (run, index) => {
    const runId = runIdOf(run);
    const diffs = await verifyRun(ctx, run, runId, report);
    perRun[index] = diffs.map((what) => ({ subject: runId, what }));
    found += diffs.length;
    report.runs++;
    ctx.options.onProgress?.({ phase: 'verify', done: ++done, total: runs.length, detail: `${report.mismatches.length + found} mismatches` });
  });
  report.mismatches.push(...perRun.flat());
  const registry = await verifyRegistry(ctx, runs, ctx.options.experiments.length > 0 || ctx.options.since !== null);
  report.models = registry.models;
  report.modelVersions = registry.versions;
  report.mismatches.push(...registry.mismatches);
  return report;
}

async function verifyRun(ctx: ImportContext, run: SourceRun, runId: string, report: VerifyReport): Promise<string[]> {
  let mine: Run;
  try {
    mine = await ctx.store.getRun(runId);
  } catch {
    return ['missing in lablog'];
  }
  const diffs: string[] = [];
  const i = run.info;
  const srcInfo = [runNameOf(run), i.status, i.start_time ?? 0, i.end_time || null, i.lifecycle_stage];
  const dstInfo = [mine.info.runName, mine.info.status, mine.info.startTime, mine.info.endTime, mine.info.lifecycleStage];
  if (JSON.stringify(srcInfo) !== JSON.stringify(dstInfo)) diffs.push(`info (name, status, start, end, stage): source ${JSON.stringify(srcInfo)}, lablog ${JSON.stringify(dstInfo)}`);

  const compare = (what: string, src: Digest, dst: Digest) => {
    if (!sameDigest(src, dst)) diffs.push(`${what}: source ${show(src)}, lablog ${show(dst)}`);
  };
  compare('params', digestKeyValues(run.data.params), digestKeyValues(mine.data.params));
  compare('tags', digestKeyValues(run.data.tags), digestKeyValues(mine.data.tags));
  const srcInputs: DatasetInput[] = run.inputs.dataset_inputs.map((di) => ({
    tags: di.tags,
    dataset: { name: di.dataset.name, digest: di.dataset.digest, sourceType: di.dataset.source_type, source: di.dataset.source, schema: di.dataset.schema, profile: di.dataset.profile },
  }));
  compare('dataset inputs', digestInputs(srcInputs), digestInputs(mine.inputs.datasetInputs));

  const srcKeys = run.data.metrics.map((m) => m.key).sort();
  const dstKeys = mine.data.metrics.map((m) => m.key).sort();
  if (JSON.stringify(srcKeys) !== JSON.stringify(dstKeys)) diffs.push(`metric keys: source [${srcKeys.join(', ')}], lablog [${dstKeys.join(', ')}]`);
  for (const key of srcKeys) {
    const src = digestSeries(await fetchHistory(ctx.source, runId, key));
    const dst = digestSeries((await ctx.store.getMetricHistory({ runId, key, offset: 0, limit: null })).points);
    report.metricPoints += src.count;
    compare(`metric '${key}' points`, src, dst);
  }

  const root = proxiedRoot(mine.info.artifactUri);
  const srcFiles = await listSourceArtifacts(ctx.source, runId);
  const dstFiles = root === null ? new Map<string, number>() : await listStored(ctx.artifacts, root);
  for (const f of srcFiles) {
    report.artifactFiles++;
    const size = dstFiles.get(f.path);
    dstFiles.delete(f.path);
    if (size === undefined || root === null) {
      diffs.push(`artifact '${f.path}': missing in lablog`);
      continue;
    }
    const src = await digestStream(await downloadSourceArtifact(ctx.source, runId, i.artifact_uri, f.path));
    const dst = await digestStream(ctx.artifacts.read(joinPath(root, f.path)));
    if (src.size !== dst.size || src.sha256 !== dst.sha256) diffs.push(`artifact '${f.path}': source ${src.size} bytes (sha256 ${src.sha256.slice(0, 12)}), lablog ${dst.size} bytes (sha256 ${dst.sha256.slice(0, 12)})`);
  }
  for (const extra of dstFiles.keys()) diffs.push(`artifact '${extra}': in lablog only`);
  return diffs;
}

/** Files under a lablog run's artifact root, by run-relative path, with their sizes. */
async function listStored(artifacts: ArtifactStore, root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const f of walkFiles(artifacts, root)) out.set(f.path, f.size);
  return out;
}
