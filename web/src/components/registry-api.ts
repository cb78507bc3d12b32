import { ApiError, mlflowAjaxCall, type KeyValue } from '../api.js';

/**
 * MLflow's Model Registry REST API (model_registry.proto) as the UI calls it, on the MLflow UI's own
 * prefix `/ajax-api/2.0/mlflow/`: GET fields in the query string, POST/PATCH/DELETE fields as JSON.
 */
export type Stage = 'None' | 'Staging' | 'Production' | 'Archived';
export const STAGES: Stage[] = ['None', 'Staging', 'Production', 'Archived'];

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  user_id?: string;
  current_stage?: Stage;
  description?: string;
  source?: string;
  run_id?: string;
  status?: 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';
  status_message?: string;
  tags?: KeyValue[];
  run_link?: string;
  aliases?: string[];
}

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  user_id?: string;
  description?: string;
  /** The latest version of each stage that has one. */
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: { alias: string; version: string }[];
}

const call = mlflowAjaxCall;

/** A string literal of MLflow's search grammar: single-quoted, or double-quoted when it holds a single quote. */
const quoted = (s: string) => (s.includes("'") ? `"${s}"` : `'${s}'`);
/** `field = value`; a value with both kinds of quote has no literal, so LIKE with `_` for each quote, and the caller keeps exact matches. */
const equals = (field: string, value: string) => (value.includes("'") && value.includes('"') ? `${field} LIKE '${value.replace(/['"]/g, '_')}'` : `${field}=${quoted(value)}`);
/** `name ILIKE '%x%'`; a quote in the text matches as a one-character wildcard (as the experiments search does). */
export const nameFilter = (text: string) => (text.trim() ? `name ILIKE '%${text.trim().replace(/'/g, '_')}%'` : undefined);

export const searchModels = (q: { filter?: string; max_results?: number; page_token?: string; order_by?: string[] }) =>
  call<{ registered_models?: RegisteredModel[]; next_page_token?: string }>('GET', 'registered-models/search', q);
export const getModel = (name: string) => call<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', { name }).then((r) => r.registered_model);
export const createModel = (name: string, description?: string) =>
  call<{ registered_model: RegisteredModel }>('POST', 'registered-models/create', { name, description }).then((r) => r.registered_model);
export const renameModel = (name: string, newName: string) =>
  call<{ registered_model: RegisteredModel }>('POST', 'registered-models/rename', { name, new_name: newName }).then((r) => r.registered_model);
export const updateModel = (name: string, description: string) => call('PATCH', 'registered-models/update', { name, description });
export const deleteModel = (name: string) => call('DELETE', 'registered-models/delete', { name });
export const setModelTag = (name: string, key: string, value: string) => call('POST', 'registered-models/set-tag', { name, key, value });
export const deleteModelTag = (name: string, key: string) => call('DELETE', 'registered-models/delete-tag', { name, key });
export const setAlias = (name: string, alias: string, version: string) => call('POST', 'registered-models/alias', { name, alias, version });
export const deleteAlias = (name: string, alias: string) => call('DELETE', 'registered-models/alias', { name, alias });

export const getVersion = (name: string, version: string) =>
  call<{ model_version: ModelVersion }>('GET', 'model-versions/get', { name, version }).then((r) => r.model_version);
export const createVersion = (v: { name: string; source: string; run_id?: string; description?: string }) =>
  call<{ model_version: ModelVersion }>('POST', 'model-versions/create', v).then((r) => r.model_version);
export const updateVersion = (name: string, version: string, description: string) => call('PATCH', 'model-versions/update', { name, version, description });
export const deleteVersion = (name: string, version: string) => call('DELETE', 'model-versions/delete', { name, version });
export const transitionStage = (name: string, version: string, stage: Stage, archiveExisting: boolean) =>
  call<{ model_version: ModelVersion }>('POST', 'model-versions/transition-stage', { name, version, stage, archive_existing_versions: archiveExisting }).then((r) => r.model_version);
export const setVersionTag = (name: string, version: string, key: string, value: string) => call('POST', 'model-versions/set-tag', { name, version, key, value });
export const deleteVersionTag = (name: string, version: string, key: string) => call('DELETE', 'model-versions/delete-tag', { name, version, key });
export const downloadUri = (name: string, version: string) =>
  call<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', { name, version }).then((r) => r.artifact_uri);

/** Every version matching the filter (all pages), newest version first. */
export async function searchVersions(filter: string): Promise<ModelVersion[]> {
  const out: ModelVersion[] = [];
  let token: string | undefined;
  do {
    const page = await call<{ model_versions?: ModelVersion[]; next_page_token?: string }>('GET', 'model-versions/search', { filter, max_results: 1000, page_token: token });
    out.push(...(page.model_versions ?? []));
    token = page.next_page_token;
  } while (token && out.length < 100_000);
  return out.sort((a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version));
}
export const versionsOfModel = (name: string) => searchVersions(equals('name', name)).then((vs) => vs.filter((v) => v.name === name));
export const versionsOfRun = (runId: string) => searchVersions(equals('run_id', runId));

/** Registers an artifact folder of a run: creates the model when it does not exist yet, then a version of it. */
export async function registerFromRun(name: string, runId: string, path: string): Promise<ModelVersion> {
  try {
    await getModel(name);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    await createModel(name);
  }
  return createVersion({ name, source: `runs:/${runId}/${path}`, run_id: runId });
}

export const modelHref = (name: string) => `/models/${encodeURIComponent(name)}`;
export const versionHref = (name: string, version: string) => `${modelHref(name)}/versions/${encodeURIComponent(version)}`;
