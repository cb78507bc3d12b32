import { digestKeyValues, sameDigest } from './checksum.js';
import type { ImportContext, MappedRun } from './import.types.js';
import { listSourceModels, listSourceVersions, rewriteSource } from './registry.phase.js';
import type { SourceRun } from './source.wire.js';
import { runIdOf } from './source.wire.js';
import type { Mismatch } from './verify.phase.js';

/**
 * The registry half of --verify: per model its description, tags and aliases, and per version its
 * stage, description, run, tags and source (as the import rewrites it). Models are in scope as in the
 * import: all of them, or with --experiments/--since those with a version from a run in scope.
 */
export async function verifyRegistry(ctx: ImportContext, runs: SourceRun[], scoped: boolean): Promise<{ models: number; versions: number; mismatches: Mismatch[] }> {
  const out = { models: 0, versions: 0, mismatches: [] as Mismatch[] };
  const byRun = new Map<string, MappedRun>();
  for (const r of runs) {
    const info = await ctx.store.getRunInfo(runIdOf(r)).catch(() => null);
    if (info) byRun.set(info.runId, { source: r, runId: info.runId, artifactUri: info.artifactUri });
  }
  const inScope = new Set(runs.map(runIdOf));
  for (const m of await listSourceModels(ctx.source)) {
    const versions = await listSourceVersions(ctx.source, m.name);
    if (scoped && !versions.some((v) => inScope.has(v.run_id))) continue;
    out.models++;
    const subject = `model ${m.name}`;
    const diff = (what: string) => out.mismatches.push({ subject, what });
    const mine = await ctx.store.getRegisteredModel(m.name).catch(() => null);
    if (!mine) {
      diff('missing in lablog');
      continue;
    }
    if ((m.description ?? null) !== mine.description) diff(`description: source ${JSON.stringify(m.description ?? null)}, lablog ${JSON.stringify(mine.description)}`);
    if (!sameDigest(digestKeyValues(m.tags), digestKeyValues(mine.tags))) diff('tags differ');
    const aliases = (list: { alias: string; version: number }[]) => JSON.stringify(list.map((a) => `${a.alias}=${a.version}`).sort());
    if (aliases(m.aliases) !== aliases(mine.aliases)) diff(`aliases: source ${aliases(m.aliases)}, lablog ${aliases(mine.aliases)}`);
    for (const v of versions) {
      out.versions++;
      const have = await ctx.store.getModelVersion(m.name, v.version).catch(() => null);
      if (!have) {
        diff(`version ${v.version}: missing in lablog`);
        continue;
      }
      const src = [v.current_stage, v.description ?? null, v.run_id, rewriteSource(v.source, byRun.get(v.run_id))];
      const dst = [have.currentStage, have.description, have.runId, have.source];
      if (JSON.stringify(src) !== JSON.stringify(dst)) diff(`version ${v.version} (stage, description, run, source): source ${JSON.stringify(src)}, lablog ${JSON.stringify(dst)}`);
      if (!sameDigest(digestKeyValues(v.tags), digestKeyValues(have.tags))) diff(`version ${v.version}: tags differ`);
    }
  }
  return out;
}
