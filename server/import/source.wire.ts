import { z } from 'zod';

// The answers of an MLflow >= 2.0 tracking server, read leniently: int64 fields as numbers or numeric
// strings (older servers and protobuf's own JSON send strings), doubles also as "NaN"/"Infinity",
// unset and empty fields omitted, unknown fields ignored.

const int64 = z.union([z.number(), z.string().regex(/^-?\d+$/).transform(Number)]);
const double = z.union([
  z.number(),
  z.enum(['NaN', 'Infinity', '-Infinity']).transform((s) => (s === 'NaN' ? NaN : s === 'Infinity' ? Infinity : -Infinity)),
  z.string().regex(/^-?[\d.]+(e[-+]?\d+)?$/i).transform(Number),
]);
const kv = z.object({ key: z.string(), value: z.string().default('') });
const kvList = z.array(kv).default([]);
const stage = z.enum(['active', 'deleted']).catch('active');

export const experimentSchema = z.object({
  experiment_id: z.union([z.string(), z.number().transform(String)]),
  name: z.string(),
  artifact_location: z.string().optional(),
  lifecycle_stage: stage.default('active'),
  creation_time: int64.optional(),
  last_update_time: int64.optional(),
  tags: kvList,
});
export type SourceExperiment = z.infer<typeof experimentSchema>;

export const experimentsPage = z.object({ experiments: z.array(experimentSchema).default([]), next_page_token: z.string().optional() });

const metricSchema = z.object({ key: z.string(), value: double, timestamp: int64.default(0), step: int64.default(0) });

const datasetInput = z.object({
  tags: kvList,
  dataset: z.object({
    name: z.string(),
    digest: z.string(),
    source_type: z.string().default(''),
    source: z.string().default(''),
    schema: z.string().optional(),
    profile: z.string().optional(),
  }),
});

export const runSchema = z.object({
  info: z.object({
    run_id: z.string().optional(),
    run_uuid: z.string().optional(),
    run_name: z.string().optional(),
    experiment_id: z.union([z.string(), z.number().transform(String)]),
    user_id: z.string().optional(),
    status: z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']).catch('FINISHED').default('RUNNING'),
    start_time: int64.optional(),
    end_time: int64.optional(),
    artifact_uri: z.string().default(''),
    lifecycle_stage: stage.default('active'),
  }),
  data: z.object({ metrics: z.array(metricSchema).default([]), params: kvList, tags: kvList }).default({ metrics: [], params: [], tags: [] }),
  inputs: z.object({ dataset_inputs: z.array(datasetInput).default([]) }).default({ dataset_inputs: [] }),
});
export type SourceRun = z.infer<typeof runSchema>;

export const runsPage = z.object({ runs: z.array(runSchema).default([]), next_page_token: z.string().optional() });

const historyShape = z.object({ metrics: z.array(metricSchema).default([]), next_page_token: z.string().optional() });

/**
 * get-history pages hold up to 25,000 points: read them with a plain loop (the same rules as
 * metricSchema) and fall back to the schema, for its error message, only when a point does not fit.
 */
export const historyPage = z.unknown().transform((json, ctx): z.infer<typeof historyShape> => {
  const j = json as { metrics?: unknown; next_page_token?: unknown };
  const list = j?.metrics ?? [];
  const token = j?.next_page_token;
  if (Array.isArray(list) && (token === undefined || typeof token === 'string')) {
    const metrics = new Array(list.length);
    let ok = true;
    for (let i = 0; i < list.length && ok; i++) {
      const m = list[i] as { key?: unknown; value?: unknown; timestamp?: unknown; step?: unknown };
      const value = typeof m?.value === 'number' ? m.value : m?.value === 'NaN' ? NaN : m?.value === 'Infinity' ? Infinity : m?.value === '-Infinity' ? -Infinity : undefined;
      const timestamp = m?.timestamp === undefined ? 0 : typeof m.timestamp === 'number' ? m.timestamp : undefined;
      const step = m?.step === undefined ? 0 : typeof m.step === 'number' ? m.step : undefined;
      if (typeof m?.key !== 'string' || value === undefined || timestamp === undefined || step === undefined) ok = false;
      else metrics[i] = { key: m.key, value, timestamp, step };
    }
    if (ok) return token === undefined ? { metrics } : { metrics, next_page_token: token as string };
  }
  const r = historyShape.safeParse(json);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

export const artifactsPage = z.object({
  root_uri: z.string().optional(),
  files: z.array(z.object({ path: z.string(), is_dir: z.boolean().default(false), file_size: int64.optional() })).default([]),
  next_page_token: z.string().optional(),
});

/** The run's name: run_name, or for servers before it existed, the mlflow.runName tag. */
export const runNameOf = (r: SourceRun) => r.info.run_name ?? r.data.tags.findLast((t) => t.key === 'mlflow.runName')?.value ?? '';

/** The run's id, whichever of the two fields the server filled. */
export const runIdOf = (r: SourceRun) => r.info.run_id || r.info.run_uuid || '';

const stageName = z.enum(['None', 'Staging', 'Production', 'Archived']).catch('None');

export const modelVersionSchema = z.object({
  name: z.string(),
  version: z.union([z.string().regex(/^\d+$/).transform(Number), z.number().int()]),
  creation_timestamp: int64.optional(),
  last_updated_timestamp: int64.optional(),
  user_id: z.string().optional(),
  current_stage: stageName.default('None'),
  description: z.string().optional(),
  source: z.string().default(''),
  run_id: z.string().default(''),
  run_link: z.string().default(''),
  status_message: z.string().optional(),
  tags: kvList,
});
export type SourceModelVersion = z.infer<typeof modelVersionSchema>;

export const registeredModelSchema = z.object({
  name: z.string(),
  creation_timestamp: int64.optional(),
  last_updated_timestamp: int64.optional(),
  description: z.string().optional(),
  tags: kvList,
  aliases: z.array(z.object({ alias: z.string(), version: z.union([z.string().regex(/^\d+$/).transform(Number), z.number().int()]) })).default([]),
});
export type SourceModel = z.infer<typeof registeredModelSchema>;

export const modelsPage = z.object({ registered_models: z.array(registeredModelSchema).default([]), next_page_token: z.string().optional() });
export const versionsPage = z.object({ model_versions: z.array(modelVersionSchema).default([]), next_page_token: z.string().optional() });
