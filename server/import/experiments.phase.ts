import { addCount, type ImportContext, type MappedExperiment } from './import.types.js';
import { experimentsPage, type SourceExperiment } from './source.wire.js';
import type { SourceClient } from './source.client.js';

export class ImportScopeError extends Error {}

/** Every experiment of the source, active and deleted, page by page. */
export async function listSourceExperiments(source: SourceClient): Promise<SourceExperiment[]> {
  const out: SourceExperiment[] = [];
  let token: string | undefined;
  do {
    const page = await source.post('/api/2.0/mlflow/experiments/search', experimentsPage, { max_results: 1000, view_type: 'ALL', page_token: token });
    out.push(...page.experiments);
    token = page.next_page_token || undefined;
  } while (token);
  return out;
}

/** The source experiments the import covers: those named (all of them must exist), or all. */
export async function experimentsInScope(source: SourceClient, names: string[]): Promise<SourceExperiment[]> {
  const all = await listSourceExperiments(source);
  if (names.length === 0) return all;
  const byName = new Map(all.map((e) => [e.name, e]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) throw new ImportScopeError(`no experiment named ${missing.map((n) => `'${n}'`).join(', ')} on ${source.url}`);
  return [...new Set(names)].map((n) => byName.get(n)!);
}

/**
 * Phase 1: each experiment is created in lablog under its original name, with its times, stage and
 * tags, or found by that name (the import's key: lablog gives it its own id). The source's artifact
 * location is not copied: the experiment's artifacts live in lablog's artifact store.
 */
export async function importExperiments(ctx: ImportContext, list: SourceExperiment[]): Promise<MappedExperiment[]> {
  const out: MappedExperiment[] = [];
  const now = Date.now();
  for (const e of list) {
    const r = await ctx.store.importExperiment({
      name: e.name,
      lifecycleStage: e.lifecycle_stage,
      creationTime: e.creation_time ?? now,
      lastUpdateTime: e.last_update_time ?? e.creation_time ?? now,
      tags: e.tags,
    });
    ctx.summary.experiments[r.created ? 'created' : 'present']++;
    addCount(ctx.summary.tags, r.tags);
    out.push({ source: e, lablogId: r.experimentId });
    ctx.options.onProgress?.({ phase: 'experiments', done: out.length, total: list.length, detail: e.name });
  }
  return out;
}
