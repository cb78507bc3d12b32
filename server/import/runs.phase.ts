import { addCount, warn, type ImportContext, type MappedExperiment, type MappedRun } from './import.types.js';
import { runIdOf, runNameOf, runsPage, type SourceRun } from './source.wire.js';
import { SourceError, type SourceClient } from './source.client.js';

const RUN_ID = /^[a-zA-Z0-9][\w-]{0,255}$/;

/** The runs of one source experiment (every stage), oldest first, page by page; `since` filters on start time. */
export async function listSourceRuns(source: SourceClient, experimentId: string, since: number | null): Promise<SourceRun[]> {
  try {
    return await searchRuns(source, experimentId, since, since !== null);
  } catch (err) {
    // A server too old for a start_time filter refuses it (400): then all runs are read and filtered here.
    if (since === null || !(err instanceof SourceError) || err.status !== 400) throw err;
    return searchRuns(source, experimentId, since, false);
  }
}

async function searchRuns(source: SourceClient, experimentId: string, since: number | null, serverFilter: boolean): Promise<SourceRun[]> {
  const out: SourceRun[] = [];
  let token: string | undefined;
  do {
    const page = await source.post('/api/2.0/mlflow/runs/search', runsPage, {
      experiment_ids: [experimentId],
      run_view_type: 'ALL',
      max_results: 1000,
      // Oldest first: runs started while the import pages through land on the last page, not in the middle.
      order_by: ['attributes.start_time ASC'],
      filter: serverFilter ? `attributes.start_time >= ${since}` : undefined,
      page_token: token,
    });
    // Filtered here too: a server that ignores part of the filter must not widen the import.
    out.push(...page.runs.filter((r) => since === null || (r.info.start_time ?? 0) >= since));
    token = page.next_page_token || undefined;
  } while (token);
  return out;
}

/**
 * Phase 2: each run is created with its original id (or found by it) and its info, params, tags and
 * dataset inputs are brought to the source's values, in one transaction per run. Nested runs need
 * nothing more: the parent link is the tag mlflow.parentRunId, copied like any tag.
 */
export async function importRuns(ctx: ImportContext, experiments: MappedExperiment[]): Promise<MappedRun[]> {
  const found: { run: SourceRun; lablogExperiment: string }[] = [];
  for (const e of experiments) {
    for (const run of await listSourceRuns(ctx.source, e.source.experiment_id, ctx.options.since)) found.push({ run, lablogExperiment: e.lablogId });
    ctx.options.onProgress?.({ phase: 'runs', done: 0, total: 0, detail: `listing: ${found.length} found` });
  }
  const out: MappedRun[] = [];
  for (const { run, lablogExperiment } of found) {
    const runId = runIdOf(run);
    if (!RUN_ID.test(runId)) {
      warn(ctx, `run '${runId}' skipped: not a valid run id`);
      continue;
    }
    const tag = (key: string) => run.data.tags.findLast((t) => t.key === key)?.value;
    const r = await ctx.store.importRun({
      runUuid: runId,
      experimentId: lablogExperiment,
      userId: run.info.user_id || tag('mlflow.user') || '',
      runName: runNameOf(run),
      status: run.info.status,
      startTime: run.info.start_time ?? 0,
      endTime: run.info.end_time || null,
      lifecycleStage: run.info.lifecycle_stage,
      params: run.data.params,
      tags: run.data.tags,
      inputs: run.inputs.dataset_inputs.map((di) => ({
        tags: di.tags,
        dataset: {
          name: di.dataset.name,
          digest: di.dataset.digest,
          sourceType: di.dataset.source_type,
          source: di.dataset.source,
          schema: di.dataset.schema ?? null,
          profile: di.dataset.profile ?? null,
        },
      })),
    });
    ctx.summary.runs[r.created ? 'created' : 'present']++;
    addCount(ctx.summary.params, r.params);
    addCount(ctx.summary.tags, r.tags);
    addCount(ctx.summary.datasets, r.inputs);
    out.push({ source: run, runId, artifactUri: r.artifactUri });
    ctx.options.onProgress?.({ phase: 'runs', done: out.length, total: found.length });
  }
  return out;
}
