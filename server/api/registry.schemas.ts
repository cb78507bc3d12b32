import { z } from 'zod';
import { EX, keyValues, queryInt, requiredString, stringList, int64, withExamples } from './schemas.js';

// Request shapes of MLflow's model_registry.proto, with the fields in the order of MLflow 2.10's
// handler schemas (the first failing one is the one reported) and its `_assert_required` marks as
// requiredString ("" is missing too). Version numbers are strings in the proto; lablog also takes
// the numbers some clients send.

const version = z.union([requiredString, z.number().int().transform(String)]);
const name = requiredString;
/** protobuf-JSON booleans; "true"/"false" strings are accepted too. */
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]).default(false);

const MODEL = 'fraud-detector';
const SEARCH_EXAMPLE = { filter: "name LIKE 'fraud%'", max_results: 10, order_by: ['name ASC'] };

export const createModelBody = withExamples(
  z.object({ name, tags: keyValues, description: z.string().optional() }),
  { name: MODEL, tags: [{ key: 'team', value: 'risk' }], description: 'Scores card transactions.' },
);
export const nameQuery = withExamples(z.object({ name }), { name: MODEL });
export const nameBody = withExamples(z.object({ name }), { name: MODEL });
export const renameBody = withExamples(z.object({ name, new_name: requiredString }), { name: MODEL, new_name: 'fraud-scorer' });
export const updateModelBody = withExamples(z.object({ name, description: z.string().optional() }), { name: MODEL, description: 'Gradient-boosted trees.' });
const searchFields = z.object({
  filter: z.string().optional(),
  max_results: int64.optional(),
  order_by: z.array(z.string()).default([]),
  page_token: z.string().optional(),
});
export const searchBody = withExamples(searchFields, SEARCH_EXAMPLE);
export const searchQuery = withExamples(searchFields.extend({ max_results: queryInt, order_by: stringList }), { filter: "name = 'fraud-detector'", max_results: '10', order_by: 'name ASC' });
export const versionSearchBody = withExamples(searchFields, { filter: `run_id = '${EX.run}'`, max_results: 10, order_by: ['version_number DESC'] });
export const versionSearchQuery = withExamples(searchFields.extend({ max_results: queryInt, order_by: stringList }), { filter: "name = 'fraud-detector'", order_by: 'version_number DESC' });
export const latestBody = withExamples(z.object({ name, stages: z.array(z.string()).default([]) }), { name: MODEL, stages: ['Production'] });
export const latestQuery = withExamples(z.object({ name, stages: stringList }), { name: MODEL, stages: 'Staging' });
export const modelTagBody = withExamples(z.object({ name, key: requiredString, value: z.string().default('') }), { name: MODEL, key: 'team', value: 'risk' });
export const modelTagDeleteBody = withExamples(z.object({ name, key: requiredString }), { name: MODEL, key: 'team' });
export const aliasBody = withExamples(z.object({ name, alias: requiredString, version }), { name: MODEL, alias: 'champion', version: '3' });
export const aliasDeleteBody = withExamples(z.object({ name, alias: requiredString }), { name: MODEL, alias: 'champion' });
export const aliasQuery = withExamples(z.object({ name, alias: requiredString }), { name: MODEL, alias: 'champion' });

export const createVersionBody = withExamples(
  z.object({
    name,
    source: requiredString,
    run_id: z.string().optional(),
    tags: keyValues,
    run_link: z.string().optional(),
    description: z.string().optional(),
  }),
  { name: MODEL, source: `runs:/${EX.run}/model`, run_id: EX.run },
);
export const versionQuery = withExamples(z.object({ name, version }), { name: MODEL, version: '1' });
export const versionBody = withExamples(z.object({ name, version }), { name: MODEL, version: '1' });
export const updateVersionBody = withExamples(z.object({ name, version, description: z.string().optional() }), { name: MODEL, version: '1', description: 'AUC 0.97 on March data.' });
export const transitionBody = withExamples(
  z.object({ name, version, stage: requiredString, archive_existing_versions: bool }),
  { name: MODEL, version: '1', stage: 'Production', archive_existing_versions: true },
);
export const versionTagBody = withExamples(z.object({ name, version, key: requiredString, value: z.string().default('') }), { name: MODEL, version: '1', key: 'validated', value: 'true' });
export const versionTagDeleteBody = withExamples(z.object({ name, version, key: requiredString }), { name: MODEL, version: '1', key: 'validated' });
export const versionArtifactQuery = withExamples(z.object({ name, version, path: z.string() }), { name: MODEL, version: '1', path: 'MLmodel' });
