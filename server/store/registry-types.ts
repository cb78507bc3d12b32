import type { Permission, ReadableBy } from './auth-types.js';
import type { Expr, OrderKey } from '../search/ast.js';
import type { KeyValue, Page } from './types.js';

// The Model Registry's rows as the store hands them to tracking/registry.service.ts.

export type Stage = 'None' | 'Staging' | 'Production' | 'Archived';

export interface ModelVersionRecord {
  name: string;
  version: number;
  creationTime: number;
  lastUpdatedTime: number;
  description: string | null;
  userId: string | null;
  currentStage: Stage;
  source: string;
  /** What get-download-uri answers: the source, or the location a runs:/ or models:/ source resolved to. */
  storageLocation: string;
  runId: string;
  runLink: string;
  status: 'READY';
  statusMessage: string | null;
  tags: KeyValue[];
  /** Alias names pointing at this version, in name order. */
  aliases: string[];
}

export interface RegisteredModelRecord {
  name: string;
  creationTime: number;
  lastUpdatedTime: number;
  description: string | null;
  /** The newest version of each stage, in the order MLflow lists them (the stage's oldest version first). */
  latestVersions: ModelVersionRecord[];
  tags: KeyValue[];
  aliases: { alias: string; version: number }[];
}

export interface RegisteredModelSearch {
  filter: Expr | null;
  orderBy: OrderKey[];
  offset: number;
  limit: number;
  /** Only models this user may read (undefined: all). */
  readableBy?: ReadableBy;
}

export type ModelVersionSearch = RegisteredModelSearch;

export interface NewModelVersion {
  name: string;
  source: string;
  storageLocation: string;
  runId: string;
  runLink: string;
  description: string | null;
  userId: string | null;
  tags: KeyValue[];
  now: number;
}

/** A registered model copied from another server, with its own timestamps. */
export interface ImportedRegisteredModel {
  name: string;
  creationTime: number;
  lastUpdatedTime: number;
  description: string | null;
  tags: KeyValue[];
}

/** A model version copied from another server: its own number, stage and timestamps. */
export interface ImportedModelVersion {
  name: string;
  version: number;
  creationTime: number;
  lastUpdatedTime: number;
  description: string | null;
  userId: string | null;
  currentStage: Stage;
  source: string;
  storageLocation: string;
  runId: string;
  runLink: string;
  tags: KeyValue[];
}

export interface ModelPermissionRecord {
  name: string;
  username: string;
  permission: Permission;
}

/**
 * The registry part of the TrackingStore. Each call is one transaction. Unknown models throw
 * RESOURCE_DOES_NOT_EXIST "Registered Model with name=X not found", unknown versions
 * "Model Version (name=X, version=N) not found" (MLflow's messages).
 */
export interface RegistryStore {
  /** Throws RESOURCE_ALREADY_EXISTS for a taken name. */
  createRegisteredModel(m: { name: string; description: string | null; tags: KeyValue[]; now: number }): Promise<RegisteredModelRecord>;
  getRegisteredModel(name: string): Promise<RegisteredModelRecord>;
  /** Renames the model with its versions, tags, aliases and permissions; RESOURCE_ALREADY_EXISTS when new_name is taken. */
  renameRegisteredModel(name: string, newName: string, now: number): Promise<RegisteredModelRecord>;
  updateRegisteredModel(name: string, description: string | null, now: number): Promise<RegisteredModelRecord>;
  deleteRegisteredModel(name: string): Promise<void>;
  searchRegisteredModels(q: RegisteredModelSearch): Promise<Page<RegisteredModelRecord>>;
  setRegisteredModelTag(name: string, tag: KeyValue): Promise<void>;
  deleteRegisteredModelTag(name: string, key: string): Promise<void>;
  /** Points the alias at the version (moving it if it pointed elsewhere); the version must exist. */
  setRegisteredModelAlias(name: string, alias: string, version: number): Promise<void>;
  deleteRegisteredModelAlias(name: string, alias: string): Promise<void>;
  /** The version an alias points at, or null when the model has no such alias. */
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersionRecord | null>;

  /** The next number of the model's counter: 1, 2, ... never reused. */
  createModelVersion(v: NewModelVersion): Promise<ModelVersionRecord>;
  getModelVersion(name: string, version: number): Promise<ModelVersionRecord>;
  updateModelVersion(name: string, version: number, description: string | null, now: number): Promise<ModelVersionRecord>;
  /** Moves the version to `stage`; with `archiveOthers`, the model's other versions in that stage go to Archived. */
  transitionModelVersionStage(name: string, version: number, stage: Stage, archiveOthers: boolean, now: number): Promise<ModelVersionRecord>;
  deleteModelVersion(name: string, version: number, now: number): Promise<void>;
  searchModelVersions(q: ModelVersionSearch): Promise<Page<ModelVersionRecord>>;
  /** Versions registered from one run (the run page's "registered models"), newest first. */
  modelVersionsOfRun(runId: string): Promise<ModelVersionRecord[]>;
  setModelVersionTag(name: string, version: number, tag: KeyValue): Promise<void>;
  deleteModelVersionTag(name: string, version: number, key: string): Promise<void>;

  /** Upserts a model as another server had it (the importer); idempotent. */
  importRegisteredModel(m: ImportedRegisteredModel): Promise<void>;
  /** Upserts a version with its own number and stage; the model's counter stays above it. Idempotent. */
  importModelVersion(v: ImportedModelVersion): Promise<void>;

  /** Throws RESOURCE_DOES_NOT_EXIST for an unknown model. */
  setModelPermission(name: string, userId: number, permission: Permission): Promise<void>;
  deleteModelPermission(name: string, userId: number): Promise<boolean>;
  listModelPermissions(name: string): Promise<ModelPermissionRecord[]>;
  /** The user's explicit permissions, by model name. */
  modelPermissionsOf(userId: number): Promise<Map<string, Permission>>;
}
