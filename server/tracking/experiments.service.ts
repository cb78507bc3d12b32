import { notFound } from '../errors.js';
import { parseExperimentFilter, parseExperimentOrderBy } from '../search/parser.js';
import type { KeyValue, TrackingStore, ViewType } from '../store/types.js';
import { validateArtifactLocation, validateExperimentName, validateExperimentTag } from './validation.js';

export interface Clock {
  now(): number;
}

export function createExperimentService(store: TrackingStore, clock: Clock) {
  return {
    async create(name: string, artifactLocation: string | undefined, tags: KeyValue[]) {
      validateExperimentName(name);
      if (artifactLocation) validateArtifactLocation(artifactLocation);
      tags.forEach(validateExperimentTag);
      return store.createExperiment({ name, artifactLocation: artifactLocation || null, tags, now: clock.now() });
    },
    get: (id: string) => store.getExperiment(id),
    async getByName(name: string) {
      const e = await store.getExperimentByName(name);
      if (!e) throw notFound(`Could not find experiment with name '${name}'`);
      return e;
    },
    search(q: { filter?: string; orderBy?: string[]; viewType: ViewType; offset: number; limit: number }) {
      return store.searchExperiments({
        filter: parseExperimentFilter(q.filter),
        orderBy: parseExperimentOrderBy(q.orderBy),
        viewType: q.viewType,
        offset: q.offset,
        limit: q.limit,
      });
    },
    rename(id: string, name: string) {
      validateExperimentName(name);
      return store.renameExperiment(id, name, clock.now());
    },
    delete: (id: string) => store.setExperimentLifecycle(id, 'deleted', clock.now()),
    restore: (id: string) => store.setExperimentLifecycle(id, 'active', clock.now()),
    setTag(id: string, tag: KeyValue) {
      validateExperimentTag(tag);
      return store.setExperimentTag(id, tag, clock.now());
    },
    deleteTag: (id: string, key: string) => store.deleteExperimentTag(id, key),
  };
}

export type ExperimentService = ReturnType<typeof createExperimentService>;
