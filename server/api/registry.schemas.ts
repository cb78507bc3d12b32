import { z } from 'zod';
import { keyValues, queryInt, stringList, int64 } from './schemas.js';

// Request shapes of MLflow's model_registry.proto. Version numbers are strings in the proto; clients
// also send numbers. Required fields are checked by zod (MLflow's "Missing value ..." wording) and an
// empty string is refused by the service.

const version = z.union([z.string(), z.number().int().transform(String)]);
const name = z.string();
/** protobuf-JSON booleans; "true"/"false" strings are accepted too. */
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]).default(false);

export const createModelBody = z.object({ name, tags: keyValues, description: z.string().optional() });
export const nameQuery = z.object({ name });
export const nameBody = z.object({ name });
export const renameBody = z.object({ name, new_name: z.string() });
export const updateModelBody = z.object({ name, description: z.string().optional() });
export const searchBody = z.object({
  filter: z.string().optional(),
  max_results: int64.optional(),
  order_by: z.array(z.string()).default([]),
  page_token: z.string().optional(),
});
export const searchQuery = searchBody.extend({ max_results: queryInt, order_by: stringList });
export const latestBody = z.object({ name, stages: z.array(z.string()).default([]) });
export const latestQuery = z.object({ name, stages: stringList });
export const modelTagBody = z.object({ name, key: z.string(), value: z.string().default('') });
export const modelTagDeleteBody = z.object({ name, key: z.string() });
export const aliasBody = z.object({ name, alias: z.string(), version });
export const aliasDeleteBody = z.object({ name, alias: z.string() });
export const aliasQuery = z.object({ name, alias: z.string() });

export const createVersionBody = z.object({
  name,
  source: z.string(),
  run_id: z.string().optional(),
  tags: keyValues,
  run_link: z.string().optional(),
  description: z.string().optional(),
});
export const versionQuery = z.object({ name, version });
export const versionBody = z.object({ name, version });
export const updateVersionBody = z.object({ name, version, description: z.string().optional() });
export const transitionBody = z.object({ name, version, stage: z.string(), archive_existing_versions: bool });
export const versionTagBody = z.object({ name, version, key: z.string(), value: z.string().default('') });
export const versionTagDeleteBody = z.object({ name, version, key: z.string() });
export const versionArtifactQuery = z.object({ name, version, path: z.string() });
