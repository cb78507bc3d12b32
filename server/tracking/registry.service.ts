import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { invalid, LablogError } from '../errors.js';
import { parseModelVersionFilter, parseModelVersionOrderBy, parseRegisteredModelFilter, parseRegisteredModelOrderBy } from '../search/parser.js';
import type { OrderKey } from '../search/ast.js';
import type { ModelVersionRecord, RegisteredModelRecord, Stage } from '../store/registry-types.js';
import type { KeyValue, TrackingStore } from '../store/types.js';
import type { Clock } from './experiments.service.js';
import { parseModelsUri, parseRunsUri, validateSource } from './registry-source.js';
import { checkLength, validateKey } from './validation.js';

// MLflow's model_version_stages.py, store/model_registry/__init__.py and validation.py.
export const STAGES: readonly Stage[] = ['None', 'Staging', 'Production', 'Archived'];
const ACTIVE_STAGES: readonly Stage[] = ['Staging', 'Production'];
export const SEARCH_MODELS_DEFAULT = 100;
export const SEARCH_MODELS_MAX = 1000;
export const SEARCH_VERSIONS_DEFAULT = 10_000;
export const SEARCH_VERSIONS_MAX = 200_000;
const TAG_KEY_MAX = 250;
const TAG_VALUE_MAX = 5000;
const ALIAS_MAX = 255;
const API_DOCS = 'See the API docs for more information about request parameters.';

const required = (field: string, value: string | undefined): string => {
  if (value === undefined || value === '') throw invalid(`Missing value for required parameter '${field}'. ${API_DOCS}`);
  return value;
};

/** MLflow's get_canonical_stage: any letter case in, the canonical spelling out. */
export function canonicalStage(stage: string): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!found) throw invalid(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(', ')}.`);
  return found;
}

/** Versions travel as strings; MLflow's _validate_model_version wants an integer. */
export function versionNumber(version: string | number | undefined): number {
  const text = required('version', version === undefined ? undefined : String(version)).trim();
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw invalid(`Parameter 'version' must be an integer, got '${version}'.`);
  return Number(text);
}

function checkTag(tag: KeyValue): void {
  validateKey('tag', tag.key);
  checkLength('Tag key', tag.key, TAG_KEY_MAX);
  checkLength('Tag value', tag.value, TAG_VALUE_MAX);
}

/** MLflow's _validate_model_alias_name. */
function checkAlias(alias: string | undefined): string {
  if (!alias) throw invalid('Registered model alias name cannot be empty.');
  if (!/^[\w-]*$/.test(alias)) throw invalid(`Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  if (alias.length > ALIAS_MAX) throw invalid(`'Registered model alias name' exceeds the maximum length of ${ALIAS_MAX} characters`);
  if (alias.toLowerCase() === 'latest') throw invalid("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw invalid(`Version alias name '${alias}' is reserved.`);
  return alias;
}

function checkMax(n: number | undefined, fallback: number, max: number): number {
  const value = n ?? fallback;
  if (value < 1) throw invalid(`Invalid value for max_results. It must be a positive integer, but got ${value}`);
  if (value > max) throw invalid(`Invalid value for request parameter max_results. It must be at most ${max}, but got value ${value}`);
  return value;
}

function noDuplicates(keys: OrderKey[], given: string[]): void {
  const seen = new Set(keys.map((k) => k.key));
  if (seen.size !== keys.length) throw invalid(`\`order_by\` contains duplicate fields: ${JSON.stringify(given)}`);
}

export interface RegistryPage<T> {
  items: T[];
  nextOffset: number | null;
}

export function createRegistryService(store: TrackingStore, clock: Clock, access: Access) {
  const now = () => clock.now();

  async function readableModel(caller: Caller, name: string): Promise<RegisteredModelRecord> {
    const model = await store.getRegisteredModel(required('name', name));
    await access.model(caller, name, 'READ');
    return model;
  }

  /** The model must exist (404 first, as MLflow), then the caller needs `need` on it. */
  async function may(caller: Caller, name: string, need: 'READ' | 'EDIT' | 'MANAGE'): Promise<void> {
    await store.getRegisteredModel(required('name', name));
    await access.model(caller, name, need);
  }

  /** For calls on one version: MLflow looks the version up directly, so a missing model reads "Model Version (...) not found". */
  async function mayVersion(caller: Caller, name: string, version: number, need: 'READ' | 'EDIT' | 'MANAGE'): Promise<ModelVersionRecord> {
    const v = await store.getModelVersion(required('name', name), version);
    await access.model(caller, name, need);
    return v;
  }

  /** What get-download-uri answers for a new version: runs:/ and models:/ sources resolved to where the files are. */
  async function storageLocation(caller: Caller, source: string): Promise<string> {
    const runs = parseRunsUri(source);
    if (runs) {
      const info = await store.getRunInfo(runs.runId).catch(() => null);
      if (!info) return source;
      await access.run(caller, runs.runId, 'READ');
      return runs.path ? `${info.artifactUri.replace(/\/+$/, '')}/${runs.path}` : info.artifactUri;
    }
    const models = parseModelsUri(source);
    if (models) {
      await may(caller, models.name, 'READ');
      const v = models.alias !== undefined ? await store.getModelVersionByAlias(models.name, models.alias) : await store.getModelVersion(models.name, models.version!);
      if (!v) throw invalid(`Unable to fetch model from model URI source artifact location '${source}'.Error: Registered model alias ${models.alias} not found.`);
      return v.storageLocation;
    }
    return source;
  }

  return {
    async createRegisteredModel(caller: Caller, m: { name?: string; description?: string; tags: KeyValue[] }): Promise<RegisteredModelRecord> {
      const name = required('name', m.name);
      access.mayWrite(caller);
      m.tags.forEach(checkTag);
      const model = await store.createRegisteredModel({ name, description: m.description ?? null, tags: m.tags, now: now() });
      await access.createdModel(caller, name);
      return model;
    },
    getRegisteredModel: readableModel,
    async renameRegisteredModel(caller: Caller, name: string, newName: string | undefined): Promise<RegisteredModelRecord> {
      await may(caller, name, 'EDIT');
      return store.renameRegisteredModel(name, required('new_name', newName), now());
    },
    async updateRegisteredModel(caller: Caller, name: string, description: string | undefined): Promise<RegisteredModelRecord> {
      await may(caller, name, 'EDIT');
      return store.updateRegisteredModel(name, description ?? '', now());
    },
    async deleteRegisteredModel(caller: Caller, name: string): Promise<void> {
      await may(caller, name, 'MANAGE');
      await store.deleteRegisteredModel(name);
    },
    searchRegisteredModels(caller: Caller, q: { filter?: string; orderBy: string[]; offset: number; maxResults?: number }): Promise<RegistryPage<RegisteredModelRecord>> {
      const limit = checkMax(q.maxResults, SEARCH_MODELS_DEFAULT, SEARCH_MODELS_MAX);
      const orderBy = parseRegisteredModelOrderBy(q.orderBy);
      noDuplicates(orderBy, q.orderBy);
      return store.searchRegisteredModels({ filter: parseRegisteredModelFilter(q.filter), orderBy, offset: q.offset, limit, readableBy: access.readFilter(caller) });
    },
    /** The newest version in each of `stages` (all four when none are given), as MLflow's SqlAlchemyStore picks them. */
    async getLatestVersions(caller: Caller, name: string, stages: string[]): Promise<ModelVersionRecord[]> {
      const model = await readableModel(caller, name);
      const wanted = new Set(stages.length ? stages.map(canonicalStage) : STAGES);
      const latest = model.latestVersions.filter((v) => wanted.has(v.currentStage));
      return Promise.all(latest.map((v) => store.getModelVersion(v.name, v.version)));
    },
    async setRegisteredModelTag(caller: Caller, name: string, tag: { key?: string; value: string }): Promise<void> {
      const t = { key: required('key', tag.key), value: tag.value };
      checkTag(t);
      await may(caller, name, 'EDIT');
      await store.setRegisteredModelTag(name, t);
    },
    async deleteRegisteredModelTag(caller: Caller, name: string, key: string | undefined): Promise<void> {
      validateKey('tag', required('key', key));
      await may(caller, name, 'EDIT');
      await store.deleteRegisteredModelTag(name, key!);
    },
    async setAlias(caller: Caller, name: string, alias: string | undefined, version: string | number | undefined): Promise<void> {
      required('name', name);
      const a = checkAlias(alias);
      const n = versionNumber(version);
      await mayVersion(caller, name, n, 'EDIT');
      await store.setRegisteredModelAlias(name, a, n);
    },
    async deleteAlias(caller: Caller, name: string, alias: string | undefined): Promise<void> {
      required('name', name);
      const a = checkAlias(alias);
      await may(caller, name, 'EDIT');
      await store.deleteRegisteredModelAlias(name, a);
    },
    async getModelVersionByAlias(caller: Caller, name: string, alias: string | undefined): Promise<ModelVersionRecord> {
      required('name', name);
      const a = checkAlias(alias);
      await access.model(caller, name, 'READ');
      const v = await store.getModelVersionByAlias(name, a);
      // MLflow answers a missing alias (or model) with INVALID_PARAMETER_VALUE, not 404.
      if (!v) throw invalid(`Registered model alias ${a} not found.`);
      return v;
    },

    /** Source checked as MLflow 2.10 does; EDIT on the model and READ on the run's experiment. */
    async createModelVersion(
      caller: Caller,
      v: { name?: string; source?: string; runId?: string; runLink?: string; description?: string; tags: KeyValue[] },
    ): Promise<ModelVersionRecord> {
      const name = required('name', v.name);
      const source = required('source', v.source);
      const runId = v.runId ?? '';
      await validateSource(source, runId, async () => (await store.getRunInfo(runId)).artifactUri);
      v.tags.forEach(checkTag);
      await may(caller, name, 'EDIT');
      if (runId) {
        // MLflow does not look the run up for a remote source; a run this server holds must be readable.
        const exists = await store.getRunInfo(runId).then(() => true, (e) => (e instanceof LablogError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST' ? false : Promise.reject(e)));
        if (exists) await access.run(caller, runId, 'READ');
      }
      return store.createModelVersion({
        name,
        source,
        storageLocation: await storageLocation(caller, source),
        runId,
        runLink: v.runLink ?? '',
        description: v.description ?? '',
        userId: caller.userId === null ? null : caller.username,
        tags: v.tags,
        now: now(),
      });
    },
    async getModelVersion(caller: Caller, name: string, version: string | number | undefined): Promise<ModelVersionRecord> {
      return mayVersion(caller, name, versionNumber(version), 'READ');
    },
    async updateModelVersion(caller: Caller, name: string, version: string | number | undefined, description: string | undefined): Promise<ModelVersionRecord> {
      const n = versionNumber(version);
      await mayVersion(caller, name, n, 'EDIT');
      return store.updateModelVersion(name, n, description ?? null, now());
    },
    async transitionStage(caller: Caller, name: string, version: string | number | undefined, stage: string | undefined, archiveExisting: boolean): Promise<ModelVersionRecord> {
      const n = versionNumber(version);
      const to = canonicalStage(required('stage', stage));
      if (archiveExisting && !ACTIVE_STAGES.includes(to)) {
        throw invalid(
          `Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are ['Staging', 'Production']`,
        );
      }
      await mayVersion(caller, name, n, 'EDIT');
      return store.transitionModelVersionStage(name, n, to, archiveExisting, now());
    },
    async deleteModelVersion(caller: Caller, name: string, version: string | number | undefined): Promise<void> {
      const n = versionNumber(version);
      await mayVersion(caller, name, n, 'MANAGE');
      await store.deleteModelVersion(name, n, now());
    },
    async getDownloadUri(caller: Caller, name: string, version: string | number | undefined): Promise<string> {
      return (await mayVersion(caller, name, versionNumber(version), 'READ')).storageLocation;
    },
    searchModelVersions(caller: Caller, q: { filter?: string; orderBy: string[]; offset: number; maxResults?: number }): Promise<RegistryPage<ModelVersionRecord>> {
      const limit = checkMax(q.maxResults, SEARCH_VERSIONS_DEFAULT, SEARCH_VERSIONS_MAX);
      const orderBy = parseModelVersionOrderBy(q.orderBy);
      noDuplicates(orderBy, q.orderBy);
      return store.searchModelVersions({ filter: parseModelVersionFilter(q.filter), orderBy, offset: q.offset, limit, readableBy: access.readFilter(caller) });
    },
    /** The versions registered from a run, of models the caller may read (the run page's list). */
    async modelVersionsOfRun(caller: Caller, runId: string): Promise<ModelVersionRecord[]> {
      await access.run(caller, runId, 'READ');
      const out: ModelVersionRecord[] = [];
      for (const v of await store.modelVersionsOfRun(runId)) {
        if ((await access.modelPermissionOn(caller, v.name)) !== 'NO_PERMISSIONS') out.push(v);
      }
      return out;
    },
    async setModelVersionTag(caller: Caller, name: string, version: string | number | undefined, tag: { key?: string; value: string }): Promise<void> {
      const n = versionNumber(version);
      const t = { key: required('key', tag.key), value: tag.value };
      checkTag(t);
      await mayVersion(caller, name, n, 'EDIT');
      await store.setModelVersionTag(name, n, t);
    },
    async deleteModelVersionTag(caller: Caller, name: string, version: string | number | undefined, key: string | undefined): Promise<void> {
      const n = versionNumber(version);
      validateKey('tag', required('key', key));
      await mayVersion(caller, name, n, 'EDIT');
      await store.deleteModelVersionTag(name, n, key!);
    },
  };
}

export type RegistryService = ReturnType<typeof createRegistryService>;
