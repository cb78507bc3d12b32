import type { KeyValue } from '../store/types.js';
import { addCount, warn, type ImportContext, type MappedRun } from './import.types.js';
import type { SourceClient } from './source.client.js';
import { modelsPage, versionsPage, type SourceModel, type SourceModelVersion } from './source.wire.js';

/** Tags written (new or changed) and already present, against the stored list. */
function tagCounts(tags: KeyValue[], stored: KeyValue[]) {
  const have = new Map(stored.map((t) => [t.key, t.value]));
  const present = tags.filter((t) => have.get(t.key) === t.value).length;
  return { created: tags.length - present, present };
}

/** Every registered model of the source, page by page (MLflow caps a page at 1000). */
export async function listSourceModels(source: SourceClient): Promise<SourceModel[]> {
  const out: SourceModel[] = [];
  let token: string | undefined;
  do {
    const page = await source.get('/api/2.0/mlflow/registered-models/search', modelsPage, { max_results: 1000, page_token: token });
    out.push(...page.registered_models);
    token = page.next_page_token || undefined;
  } while (token);
  return out;
}

/** Every version of one model, page by page. */
export async function listSourceVersions(source: SourceClient, name: string): Promise<SourceModelVersion[]> {
  const out: SourceModelVersion[] = [];
  let token: string | undefined;
  // MLflow's filter strings take either quote; pick the one the name does not contain.
  const filter = name.includes("'") ? `name="${name}"` : `name='${name}'`;
  do {
    const page = await source.get('/api/2.0/mlflow/model-versions/search', versionsPage, { filter, max_results: 1000, page_token: token });
    out.push(...page.model_versions.filter((v) => v.name === name));
    token = page.next_page_token || undefined;
  } while (token);
  return out.sort((a, b) => a.version - b.version);
}

/**
 * A version's source as lablog must hold it: a location inside the source server's copy of an
 * imported run (its artifact URI as a prefix) now points into the run's lablog artifact URI; runs:/ and
 * models:/ URIs stay as they are (the run keeps its id, the model its name); anything else (a bucket
 * the source never proxied) is kept verbatim.
 */
export function rewriteSource(source: string, run: MappedRun | undefined): string {
  if (!run) return source;
  const from = run.source.info.artifact_uri.replace(/\/+$/, '');
  if (from && (source === from || source.startsWith(`${from}/`))) return run.artifactUri.replace(/\/+$/, '') + source.slice(from.length);
  return source;
}

/**
 * Phase 5: the Model Registry: models with description and tags, every version under its original
 * number with stage, description, tags and (rewritten) source, then the aliases. Keyed by model name and
 * version number, so it runs again without duplicates. With --experiments or --since, only models with
 * a version registered from an imported run are copied (all their versions, so the numbers stay).
 */
export async function importRegistry(ctx: ImportContext, runs: MappedRun[], scoped: boolean): Promise<void> {
  let models: SourceModel[];
  try {
    models = await listSourceModels(ctx.source);
  } catch (err) {
    warn(ctx, `registry not copied: ${(err as Error).message}`);
    return;
  }
  const byRun = new Map(runs.map((r) => [r.runId, r]));
  let done = 0;
  for (const m of models) {
    const versions = await listSourceVersions(ctx.source, m.name);
    if (scoped && !versions.some((v) => byRun.has(v.run_id))) continue;
    const now = Date.now();
    // Counted against what lablog held before: the store's upserts do not say what they changed.
    const before = await ctx.store.getRegisteredModel(m.name).catch(() => null);
    await ctx.store.importRegisteredModel({
      name: m.name,
      creationTime: m.creation_timestamp ?? now,
      lastUpdatedTime: m.last_updated_timestamp ?? m.creation_timestamp ?? now,
      description: m.description ?? null,
      tags: m.tags,
    });
    ctx.summary.models[before ? 'present' : 'created']++;
    addCount(ctx.summary.tags, tagCounts(m.tags, before?.tags ?? []));
    for (const v of versions) {
      const run = byRun.get(v.run_id);
      const source = rewriteSource(v.source, run);
      const runsUri = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(source);
      const storageLocation = runsUri && runsUri[1] === run?.runId ? `${run.artifactUri.replace(/\/+$/, '')}${runsUri[2] ? `/${runsUri[2]}` : ''}` : source;
      const had = await ctx.store.getModelVersion(m.name, v.version).catch(() => null);
      await ctx.store.importModelVersion({
        name: m.name,
        version: v.version,
        creationTime: v.creation_timestamp ?? now,
        lastUpdatedTime: v.last_updated_timestamp ?? v.creation_timestamp ?? now,
        description: v.description ?? null,
        userId: v.user_id ?? null,
        currentStage: v.current_stage,
        source,
        storageLocation,
        runId: v.run_id,
        runLink: v.run_link,
        tags: v.tags,
      });
      ctx.summary.modelVersions[had ? 'present' : 'created']++;
      addCount(ctx.summary.tags, tagCounts(v.tags, had?.tags ?? []));
    }
    // Aliases last: each must point at an imported version.
    const known = new Set(versions.map((v) => v.version));
    for (const a of m.aliases.filter((x) => known.has(x.version))) {
      if (before?.aliases.some((x) => x.alias === a.alias && x.version === a.version)) ctx.summary.aliases.present++;
      else {
        await ctx.store.setRegisteredModelAlias(m.name, a.alias, a.version);
        ctx.summary.aliases.created++;
      }
    }
    ctx.options.onProgress?.({ phase: 'registry', done: ++done, total: models.length, detail: m.name });
  }
}
