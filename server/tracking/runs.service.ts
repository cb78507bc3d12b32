import { randomUUID } from 'node:crypto';
import { invalid } from '../errors.js';
import { parseRunFilter, parseRunOrderBy } from '../search/parser.js';
import type { Batch, DatasetInput, KeyValue, RunStatus, TrackingStore, ViewType } from '../store/types.js';
import type { Clock } from './experiments.service.js';
import { generateRunName } from './run-names.js';
import { validateBatch, validateKey, validateTag } from './validation.js';

const RUN_NAME_TAG = 'mlflow.runName';
const USER_TAG = 'mlflow.user';
const MAX_INPUT_TAG_KEY = 255;
const MAX_INPUT_TAG_VALUE = 500;

export interface CreateRun {
  experimentId: string;
  userId?: string;
  runName?: string;
  startTime?: number;
  tags: KeyValue[];
}

export function createRunService(store: TrackingStore, clock: Clock) {
  return {
    async create(r: CreateRun) {
      r.tags.forEach(validateTag);
      const tagName = r.tags.findLast((t) => t.key === RUN_NAME_TAG)?.value;
      if (r.runName && tagName && r.runName !== tagName) {
        throw invalid(
          `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${r.runName}', mlflow.runName='${tagName}').`,
        );
      }
      const runName = r.runName || tagName || generateRunName();
      const tags = [...r.tags.filter((t) => t.key !== RUN_NAME_TAG), { key: RUN_NAME_TAG, value: runName }];
      const runUuid = randomUUID().replaceAll('-', '');
      const info = await store.createRun({
        runUuid,
        experimentId: r.experimentId,
        userId: r.userId || r.tags.findLast((t) => t.key === USER_TAG)?.value || '',
        runName,
        startTime: r.startTime ?? clock.now(),
        tags,
        artifactUri: (location) => `${location.replace(/\/+$/, '')}/${runUuid}/artifacts`,
      });
      return store.getRun(info.runId);
    },
    get: (runId: string) => store.getRun(runId),
    update(runId: string, u: { status?: RunStatus; endTime?: number; runName?: string }) {
      return store.updateRun(runId, u);
    },
    delete: (runId: string) => store.setRunLifecycle(runId, 'deleted', clock.now()),
    restore: (runId: string) => store.setRunLifecycle(runId, 'active', clock.now()),
    logBatch(runId: string, batch: Batch, idempotencyKey?: string) {
      validateBatch(batch);
      if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
        throw invalid('Idempotency-Key must be 1 to 255 visible ASCII characters');
      }
      return store.logBatch(runId, batch, idempotencyKey === undefined ? undefined : { key: idempotencyKey, now: clock.now() });
    },
    deleteTag(runId: string, key: string) {
      validateKey('tag', key);
      return store.deleteTag(runId, key);
    },
    logInputs(runId: string, inputs: DatasetInput[]) {
      for (const i of inputs) {
        for (const t of i.tags) {
          if (t.key.length > MAX_INPUT_TAG_KEY) throw invalid(`Input tag key '${t.key.slice(0, 50)}' had length ${t.key.length}, which exceeded length limit of ${MAX_INPUT_TAG_KEY}`);
          if (t.value.length > MAX_INPUT_TAG_VALUE) throw invalid(`Input tag value '${t.value.slice(0, 50)}' had length ${t.value.length}, which exceeded length limit of ${MAX_INPUT_TAG_VALUE}`);
        }
      }
      return store.logInputs(runId, inputs);
    },
    search(q: { experimentIds: string[]; filter?: string; orderBy?: string[]; viewType: ViewType; offset: number; limit: number }) {
      return store.searchRuns({
        experimentIds: q.experimentIds,
        filter: parseRunFilter(q.filter),
        orderBy: parseRunOrderBy(q.orderBy),
        viewType: q.viewType,
        offset: q.offset,
        limit: q.limit,
      });
    },
  };
}

export type RunService = ReturnType<typeof createRunService>;
