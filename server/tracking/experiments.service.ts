import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { invalid, notFound } from '../errors.js';
import { parseExperimentFilter, parseExperimentOrderBy } from '../search/parser.js';
import type { KeyValue, TrackingStore, ViewType } from '../store/types.js';
import { validateArtifactLocation, validateExperimentName, validateExperimentTag } from './validation.js';

/** MLflow's bounds for the UI's dataset search (handlers.py / sqlalchemy_store.py). */
export const SEARCH_DATASETS_MAX_EXPERIMENTS = 20;
export const SEARCH_DATASETS_MAX_RESULTS = 1000;

export interface Clock {
  now(): number;
}

export function createExperimentService(store: TrackingStore, clock: Clock, access: Access) {
  return {
    async create(caller: Caller, name: string, artifactLocation: string | undefined, tags: KeyValue[]) {
      access.mayCreate(caller);
      validateExperimentName(name);
      if (artifactLocation) validateArtifactLocation(artifactLocation);
      tags.forEach(validateExperimentTag);
      const id = await store.createExperiment({ name, artifactLocation: artifactLocation || null, tags, now: clock.now() });
      await access.created(caller, id);
      return id;
    },
    async get(caller: Caller, id: string) {
      const e = await store.getExperiment(id);
      await access.experiment(caller, id, 'READ');
      return e;
    },
    async getByName(caller: Caller, name: string) {
      const e = await store.getExperimentByName(name);
      if (!e) throw notFound(`Could not find experiment with name '${name}'`);
      await access.experiment(caller, e.experimentId, 'READ');
      return e;
    },
    search(caller: Caller, q: { filter?: string; orderBy?: string[]; viewType: ViewType; offset: number; limit: number }) {
      return store.searchExperiments({
        filter: parseExperimentFilter(q.filter),
        orderBy: parseExperimentOrderBy(q.orderBy),
        viewType: q.viewType,
        offset: q.offset,
        limit: q.limit,
        readableBy: access.readFilter(caller),
      });
    },
    /** The datasets the runs of these experiments used; experiments the caller may not read are left out. */
    async searchDatasets(caller: Caller, experimentIds: string[]) {
      if (experimentIds.length === 0) throw invalid('SearchDatasets request must specify at least one experiment_id.');
      if (experimentIds.length > SEARCH_DATASETS_MAX_EXPERIMENTS) {
        throw invalid(
          `SearchDatasets request cannot specify more than ${SEARCH_DATASETS_MAX_EXPERIMENTS} experiment_ids. Received ${experimentIds.length} experiment_ids.`,
        );
      }
      const readable = await access.readable(caller, experimentIds);
      if (readable.length === 0) return [];
      return store.searchDatasets(readable, SEARCH_DATASETS_MAX_RESULTS);
    },
    async rename(caller: Caller, id: string, name: string) {
      validateExperimentName(name);
      await access.experiment(caller, id, 'EDIT');
      return store.renameExperiment(id, name, clock.now());
    },
    async delete(caller: Caller, id: string) {
      await access.experiment(caller, id, 'MANAGE');
      return store.setExperimentLifecycle(id, 'deleted', clock.now());
    },
    async restore(caller: Caller, id: string) {
      await access.experiment(caller, id, 'MANAGE');
      return store.setExperimentLifecycle(id, 'active', clock.now());
    },
    async setTag(caller: Caller, id: string, tag: KeyValue) {
      validateExperimentTag(tag);
      await access.experiment(caller, id, 'EDIT');
      return store.setExperimentTag(id, tag, clock.now());
    },
    async deleteTag(caller: Caller, id: string, key: string) {
      await access.experiment(caller, id, 'EDIT');
      return store.deleteExperimentTag(id, key);
    },
  };
}

export type ExperimentService = ReturnType<typeof createExperimentService>;
