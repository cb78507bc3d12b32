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

export const historyPage = z.object({ metrics: z.array(metricSchema).default([]), next_page_token: z.string().optional() });

export const artifactsPage = z.object({
  root_uri: z.string().optional(),
  files: z.array(z.object({ path: z.string(), is_dir: z.boolean().default(false), file_size: int64.optional() })).default([]),
  next_page_token: z.string().optional(),
});

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
