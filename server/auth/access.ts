import { denied } from '../errors.js';
import type { Permission, ReadableBy } from '../store/auth-types.js';
import type { TrackingStore } from '../store/types.js';
import { atLeast, capByRole, isAdmin, type Caller } from './permissions.js';

// A user's explicit permissions are read once per few seconds, not on every call of a training
// script; a change to them drops them as soon as the store tells of it, from whichever process.
const PERMISSION_TTL_MS = 5_000;
// A run never moves to another experiment, so its experiment can be remembered.
const RUN_CACHE_SIZE = 20_000;

/**
 * "May this caller do X to experiment E": the one question every tracking service asks before it acts.
 * Admins (and everyone when auth is off) are let through without a lookup.
 */
export function createAccess(store: TrackingStore, opts: { defaultPermission: Permission; now?: () => number }) {
  const now = opts.now ?? Date.now;
  const explicit = new Map<number, { at: number; map: Map<string, Permission> }>();
  const runExperiment = new Map<string, string>();
  const modelExplicit = new Map<number, { at: number; map: Map<string, Permission> }>();
  // Counts the changes heard: a map the store read before one was heard may predate it.
  let heard = 0;

  /** A user's permissions from `cache` while fresh and while the store tells of every change, else from `read`. */
  async function explicitIn(cache: typeof explicit, userId: number, read: (userId: number) => Promise<Map<string, Permission>>): Promise<Map<string, Permission>> {
    const hit = store.authChangesHeard() ? cache.get(userId) : undefined;
    if (hit && now() - hit.at < PERMISSION_TTL_MS) return hit.map;
    const since = heard;
    const map = await read(userId);
    if (store.authChangesHeard() && since === heard) cache.set(userId, { at: now(), map });
    return map;
  }

  const explicitOf = (userId: number) => explicitIn(explicit, userId, (id) => store.permissionsOf(id));

  async function permissionOn(caller: Caller, experimentId: string): Promise<Permission> {
    if (isAdmin(caller)) return 'MANAGE';
    const map = await explicitOf(caller.userId!);
    return capByRole(caller.role, map.get(experimentId) ?? opts.defaultPermission);
  }

  const explicitModelsOf = (userId: number) => explicitIn(modelExplicit, userId, (id) => store.modelPermissionsOf(id));

  /** A registered model's own permission (MLflow's auth app keeps one per model, apart from experiments). */
  async function modelPermissionOn(caller: Caller, name: string): Promise<Permission> {
    if (isAdmin(caller)) return 'MANAGE';
    const map = await explicitModelsOf(caller.userId!);
    return capByRole(caller.role, map.get(name) ?? opts.defaultPermission);
  }

  async function experiment(caller: Caller, experimentId: string, need: Permission): Promise<void> {
    if (isAdmin(caller)) return;
    if (!atLeast(await permissionOn(caller, experimentId), need)) {
      throw denied(`Permission denied: user '${caller.username}' needs ${need} on experiment ${experimentId}.`);
    }
  }

  async function experimentOfRun(runId: string): Promise<string> {
    let id = runExperiment.get(runId);
    if (id === undefined) {
      id = (await store.getRunInfo(runId)).experimentId;
      if (runExperiment.size >= RUN_CACHE_SIZE) runExperiment.clear();
      runExperiment.set(runId, id);
    }
    return id;
  }

  return {
    permissionOn,
    experiment,
    async run(caller: Caller, runId: string, need: Permission): Promise<void> {
      if (isAdmin(caller)) return;
      await experiment(caller, await experimentOfRun(runId), need);
    },
    /** The experiment of a proxied artifact path (`<experiment_id>/<run_id>/artifacts/...`). */
    async artifactPath(caller: Caller, relPath: string, need: Permission): Promise<void> {
      if (isAdmin(caller)) return;
      const first = relPath.split('/')[0];
      if (!/^\d+$/.test(first)) throw denied(`Permission denied: only admins may reach artifacts outside an experiment ('${relPath}').`);
      await experiment(caller, first, need);
    },
    /** Those of the ids the caller may read, in their order. */
    async readable(caller: Caller, experimentIds: string[]): Promise<string[]> {
      if (isAdmin(caller)) return experimentIds;
      const out: string[] = [];
      for (const id of experimentIds) if (atLeast(await permissionOn(caller, id), 'READ')) out.push(id);
      return out;
    },
    /** For searches the store runs: only experiments this caller may read (undefined: all). */
    readFilter(caller: Caller): ReadableBy | undefined {
      if (isAdmin(caller)) return undefined;
      return { userId: caller.userId!, defaultReadable: atLeast(opts.defaultPermission, 'READ') };
    },
    /** Anyone but a viewer may create experiments. */
    mayCreate(caller: Caller): void {
      if (caller.role === 'viewer') throw denied(`Permission denied: user '${caller.username}' is a viewer and may not create experiments.`);
    },
    /** A caller that may write somewhere (multipart parts are addressed by an upload id only). */
    mayWrite(caller: Caller): void {
      if (caller.role === 'viewer') throw denied(`Permission denied: user '${caller.username}' is a viewer and may not write.`);
    },
    /** The creator of an experiment manages it. */
    async created(caller: Caller, experimentId: string): Promise<void> {
      if (caller.userId === null) return;
      await store.setPermission(experimentId, caller.userId, 'MANAGE');
    },
    modelPermissionOn,
    /** "May this caller do X to registered model M". */
    async model(caller: Caller, name: string, need: Permission): Promise<void> {
      if (isAdmin(caller)) return;
      if (!atLeast(await modelPermissionOn(caller, name), need)) {
        throw denied(`Permission denied: user '${caller.username}' needs ${need} on registered model '${name}'.`);
      }
    },
    /** The creator of a registered model manages it. */
    async createdModel(caller: Caller, name: string): Promise<void> {
      if (caller.userId === null) return;
      await store.setModelPermission(name, caller.userId, 'MANAGE');
    },
    /** A change to this user's permissions (null: to anyone's): the next check reads the store again. */
    forget(userId: number | null): void {
      heard++;
      if (userId === null) {
        explicit.clear();
        modelExplicit.clear();
      } else {
        explicit.delete(userId);
        modelExplicit.delete(userId);
      }
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
