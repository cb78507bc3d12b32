import { randomUUID } from 'node:crypto';
import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { alreadyExists, invalid } from '../errors.js';
import { parseRunFilter, parseRunOrderBy } from '../search/parser.js';
import type { Batch, DatasetInput, KeyValue, NewRun, RunStatus, TrackingStore, ViewType } from '../store/types.js';
import type { Clock } from './experiments.service.js';
import { generateRunName } from './run-names.js';
import { validateBatch, validateKey, validateTag } from './validation.js';

/**
 * Experiments one runs/search may name. MLflow's `search_runs(search_all_experiments=True)` sends
 * every experiment id the server has, so the bound sits far above a team's count; it only stops a
 * request from making the id list itself the cost.
 */
export const SEARCH_MAX_EXPERIMENTS = 10_000;

const RUN_NAME_TAG = 'mlflow.runName';
const USER_TAG = 'mlflow.user';
const MAX_INPUT_TAG_KEY = 255;
const MAX_INPUT_TAG_VALUE = 500;
export const LOGGED_MODELS_TAG = 'mlflow.log-model.history';
const MODEL_FIELDS = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'] as const;

export interface CreateRun {
  experimentId: string;
  userId?: string;
  runName?: string;
  startTime?: number;
  tags: KeyValue[];
}

/** A run id as lablog and MLflow make them: 32 lowercase hex digits (a UUID without its dashes). */
export const RUN_ID = /^[0-9a-f]{32}$/;

/** `1` for `01`: the store reads experiment ids as integers, so two spellings name one experiment. */
const sameExperiment = (a: string, b: string) => a === b || (/^\d{1,15}$/.test(a) && /^\d{1,15}$/.test(b) && Number(a) === Number(b));

export function createRunService(store: TrackingStore, clock: Clock, access: Access) {
  /** The checks and defaults MLflow's create applies (permission, tags, name), as a new row under `runUuid`. */
  async function newRun(caller: Caller, r: CreateRun, runUuid: string): Promise<NewRun> {
    await access.experiment(caller, r.experimentId, 'EDIT');
    r.tags.forEach(validateTag);
    const tagName = r.tags.findLast((t) => t.key === RUN_NAME_TAG)?.value;
    if (r.runName && tagName && r.runName !== tagName) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${r.runName}', mlflow.runName='${tagName}').`,
      );
    }
    const runName = r.runName || tagName || generateRunName();
    return {
      runUuid,
      experimentId: r.experimentId,
      userId: r.userId || r.tags.findLast((t) => t.key === USER_TAG)?.value || '',
      runName,
      startTime: r.startTime ?? clock.now(),
      tags: [...r.tags.filter((t) => t.key !== RUN_NAME_TAG), { key: RUN_NAME_TAG, value: runName }],
      artifactUri: (location) => `${location.replace(/\/+$/, '')}/${runUuid}/artifacts`,
    };
  }

  return {
    async create(caller: Caller, r: CreateRun) {
      const info = await store.createRun(await newRun(caller, r, randomUUID().replaceAll('-', '')));
      return store.getRun(info.runId);
    },
    /**
     * lablog's create with a client-made id (offline runs, and retries that must not make a second run):
     * the same id in the same experiment answers the run as it is (`created` false); in another
     * experiment it is RESOURCE_ALREADY_EXISTS. The caller needs EDIT on the experiment named.
     */
    async createWithId(caller: Caller, runId: string, r: CreateRun) {
      if (!RUN_ID.test(runId)) throw invalid(`Invalid run id '${runId.slice(0, 100)}': a run id is 32 lowercase hexadecimal digits`);
      const { info, created } = await store.ensureRun(await newRun(caller, r, runId));
      if (!created && !sameExperiment(info.experimentId, r.experimentId)) {
        throw alreadyExists(`Run with id=${runId} already exists in another experiment.`);
      }
      return { run: await store.getRun(runId), created };
    },
    async get(caller: Caller, runId: string) {
      await access.run(caller, runId, 'READ');
      return store.getRun(runId);
    },
    async update(caller: Caller, runId: string, u: { status?: RunStatus; endTime?: number; runName?: string }) {
      await access.run(caller, runId, 'EDIT');
      return store.updateRun(runId, u);
    },
    async delete(caller: Caller, runId: string) {
      await access.run(caller, runId, 'EDIT');
      return store.setRunLifecycle(runId, 'deleted', clock.now());
    },
    async restore(caller: Caller, runId: string) {
      await access.run(caller, runId, 'EDIT');
      return store.setRunLifecycle(runId, 'active', clock.now());
    },
    async logBatch(caller: Caller, runId: string, batch: Batch, idempotencyKey?: string) {
      validateBatch(batch);
      await access.run(caller, runId, 'EDIT');
      if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
        throw invalid('Idempotency-Key must be 1 to 255 visible ASCII characters');
      }
      return store.logBatch(runId, batch, idempotencyKey === undefined ? undefined : { key: idempotencyKey, now: clock.now() });
    },
    async deleteTag(caller: Caller, runId: string, key: string) {
      validateKey('tag', key);
      await access.run(caller, runId, 'EDIT');
      return store.deleteTag(runId, key);
    },
    /**
     * MLflow's log-model: the model's dict is appended to the run's `mlflow.log-model.history` tag
     * (a JSON list, written as Python's json.dumps does), read and rewritten in one store transaction.
     */
    async logModel(caller: Caller, runId: string, modelJson: string) {
      let model: unknown;
      try {
        model = JSON.parse(modelJson);
      } catch {
        model = undefined;
      }
      if (typeof model !== 'object' || model === null || Array.isArray(model)) {
        throw invalid(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
      }
      const missing = MODEL_FIELDS.filter((f) => !Object.hasOwn(model as object, f));
      if (missing.length > 0) throw invalid(`Model json is missing mandatory fields: {${missing.map((f) => `'${f}'`).join(', ')}}`);
      await access.run(caller, runId, 'EDIT');
      await store.rewriteRunTag(runId, LOGGED_MODELS_TAG, (previous) => {
        let history: unknown[] = [];
        if (previous !== undefined) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(previous);
          } catch {
            parsed = undefined;
          }
          if (!Array.isArray(parsed)) throw invalid(`The tag '${LOGGED_MODELS_TAG}' of run ${runId} is not a JSON list`);
          history = parsed;
        }
        const value = pythonJsonDumps([...history, model]);
        validateTag({ key: LOGGED_MODELS_TAG, value });
        return value;
      });
    },
    async logInputs(caller: Caller, runId: string, inputs: DatasetInput[]) {
      for (const i of inputs) {
        for (const t of i.tags) {
          if (t.key.length > MAX_INPUT_TAG_KEY) throw invalid(`Input tag key '${t.key.slice(0, 50)}' had length ${t.key.length}, which exceeded length limit of ${MAX_INPUT_TAG_KEY}`);
          if (t.value.length > MAX_INPUT_TAG_VALUE) throw invalid(`Input tag value '${t.value.slice(0, 50)}' had length ${t.value.length}, which exceeded length limit of ${MAX_INPUT_TAG_VALUE}`);
        }
      }
      await access.run(caller, runId, 'EDIT');
      return store.logInputs(runId, inputs);
    },
    /** Runs of the requested experiments the caller may read; the others are left out, as from a list. */
    async search(caller: Caller, q: { experimentIds: string[]; filter?: string; orderBy?: string[]; viewType: ViewType; offset: number; limit: number }) {
      if (q.experimentIds.length > SEARCH_MAX_EXPERIMENTS) {
        // Worded as MLflow words its bound on SearchDatasets' experiment_ids.
        throw invalid(`SearchRuns request cannot specify more than ${SEARCH_MAX_EXPERIMENTS} experiment_ids. Received ${q.experimentIds.length} experiment_ids.`);
      }
      return store.searchRuns({
        experimentIds: await access.readable(caller, q.experimentIds),
        filter: parseRunFilter(q.filter),
        orderBy: parseRunOrderBy(q.orderBy),
        viewType: q.viewType,
        offset: q.offset,
        limit: q.limit,
      });
    },
  };
}

/** Python's json.dumps with its defaults (", " and ": " separators, non-ASCII escaped), as MLflow writes tags. */
export function pythonJsonDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  return JSON.stringify(value);
}

export type RunService = ReturnType<typeof createRunService>;
