import { putArtifact, type Env } from './browser.js';

/** An MLmodel file as `mlflow.sklearn.log_model` writes it (the registry only needs it to exist). */
export const MLMODEL = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.4.0
mlflow_version: 2.10.2
utc_time_created: '2026-11-20 09:00:00.000000'
`;

export interface RegistrySeed {
  experimentId: string;
  /** Run ids by name; each run has an MLflow model in its `model/` artifact folder. */
  runs: Record<string, string>;
}

/** An experiment whose finished runs each logged a model (model/MLmodel, model/model.pkl). */
export async function seedModelRuns(env: Env, experiment: string, names: string[]): Promise<RegistrySeed> {
  const experimentId = (await env.api('POST', 'experiments/create', { name: experiment })).experiment_id as string;
  const runs: Record<string, string> = {};
  let i = 0;
  for (const name of names) {
    const start = Date.UTC(2026, 10, 20, 9, i++ * 10);
    const { run } = await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: name, start_time: start });
    runs[name] = run.info.run_id;
    await putArtifact(env, run.info.artifact_uri, 'model/MLmodel', MLMODEL);
    await putArtifact(env, run.info.artifact_uri, 'model/model.pkl', Buffer.from([0x80, 0x04, 0x95, 0x00]));
    await env.api('POST', 'runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: start + 300_000 });
  }
  return { experimentId, runs };
}

export interface SeedModel {
  name: string;
  description?: string;
  tags?: Record<string, string>;
  /** Each version's run (its source is `runs:/<run_id>/model`) and stage, in version order. */
  versions?: { run: string; stage?: 'Staging' | 'Production' | 'Archived'; description?: string }[];
  /** alias -> version number */
  aliases?: Record<string, string>;
}

/** Registers models and their versions through the registry API, as the stock client does. */
export async function seedModels(env: Env, seed: RegistrySeed, models: SeedModel[]): Promise<void> {
  for (const m of models) {
    await env.api('POST', 'registered-models/create', {
      name: m.name,
      description: m.description,
      tags: Object.entries(m.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    for (const v of m.versions ?? []) {
      const runId = seed.runs[v.run];
      const { model_version } = await env.api('POST', 'model-versions/create', { name: m.name, source: `runs:/${runId}/model`, run_id: runId, description: v.description });
      if (v.stage) await env.api('POST', 'model-versions/transition-stage', { name: m.name, version: model_version.version, stage: v.stage, archive_existing_versions: false });
    }
    for (const [alias, version] of Object.entries(m.aliases ?? {})) await env.api('POST', 'registered-models/alias', { name: m.name, alias, version });
  }
}

/** The stored stage of each version of a model, by version number. */
export async function storedStages(env: Env, name: string): Promise<Record<string, string>> {
  const { model_versions } = await env.api('GET', 'model-versions/search', { filter: `name='${name}'` });
  return Object.fromEntries((model_versions ?? []).map((v: { version: string; current_stage: string }) => [v.version, v.current_stage]));
}
