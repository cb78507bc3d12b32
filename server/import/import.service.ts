import type { ArtifactStore } from '../artifacts/types.js';
import type { TrackingStore } from '../store/types.js';
import { importArtifacts } from './artifacts.phase.js';
import { experimentsInScope, importExperiments } from './experiments.phase.js';
import { emptySummary, type ImportContext, type ImportOptions, type ImportSummary } from './import.types.js';
import { importMetrics } from './metrics.phase.js';
import { importRegistry } from './registry.phase.js';
import { importRuns } from './runs.phase.js';
import type { SourceClient } from './source.client.js';
import { verifyImport, type VerifyReport } from './verify.phase.js';

export interface ImportDeps {
  source: SourceClient;
  store: TrackingStore;
  artifacts: ArtifactStore;
}

/**
 * Copies an MLflow server into lablog, phase by phase: experiments, runs (info, params, tags, dataset
 * inputs), metric histories, artifacts, the Model Registry. Each phase is idempotent (see the resume rule in each phase's
 * file), so the whole import can be run again at any time, after an interruption or to pick up what
 * the source gained since, and ends with the source's data without duplicates.
 */
export async function importFromMlflow(deps: ImportDeps, options: ImportOptions): Promise<ImportSummary> {
  const ctx: ImportContext = { ...deps, options, summary: emptySummary() };
  const experiments = await importExperiments(ctx, await experimentsInScope(deps.source, options.experiments));
  const runs = await importRuns(ctx, experiments);
  await importMetrics(ctx, runs);
  await importArtifacts(ctx, runs);
  await importRegistry(ctx, runs, options.experiments.length > 0 || options.since !== null);
  return ctx.summary;
}

/** Compares what the import would copy with what lablog holds; writes nothing. */
export async function verifyFromMlflow(deps: ImportDeps, options: ImportOptions): Promise<VerifyReport> {
  return verifyImport({ ...deps, options, summary: emptySummary() });
}
