import type { ModelVersionRecord, RegisteredModelRecord } from '../store/registry-types.js';

// MLflow's RegisteredModel.to_proto / ModelVersion.to_proto as JSON: version numbers are strings,
// empty repeated fields and unset optional ones are left out, a model's empty description too.

export function modelVersionJson(v: ModelVersionRecord) {
  return {
    name: v.name,
    version: String(v.version),
    creation_timestamp: v.creationTime,
    last_updated_timestamp: v.lastUpdatedTime,
    ...(v.userId === null ? {} : { user_id: v.userId }),
    current_stage: v.currentStage,
    ...(v.description === null ? {} : { description: v.description }),
    source: v.source,
    run_id: v.runId,
    status: v.status,
    ...(v.statusMessage ? { status_message: v.statusMessage } : {}),
    ...(v.tags.length ? { tags: v.tags.map((t) => ({ key: t.key, value: t.value })) } : {}),
    run_link: v.runLink,
    ...(v.aliases.length ? { aliases: v.aliases } : {}),
  };
}

export function registeredModelJson(m: RegisteredModelRecord) {
  return {
    name: m.name,
    creation_timestamp: m.creationTime,
    last_updated_timestamp: m.lastUpdatedTime,
    ...(m.description ? { description: m.description } : {}),
    ...(m.latestVersions.length ? { latest_versions: m.latestVersions.map(modelVersionJson) } : {}),
    ...(m.tags.length ? { tags: m.tags.map((t) => ({ key: t.key, value: t.value })) } : {}),
    ...(m.aliases.length ? { aliases: m.aliases.map((a) => ({ alias: a.alias, version: String(a.version) })) } : {}),
  };
}
