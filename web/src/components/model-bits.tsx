import type { KeyValue } from '../api.js';
import { linkHandler } from '../router.js';
import { versionHref, type ModelVersion, type RegisteredModel, type Stage } from './registry-api.js';

/** Small pieces the registry pages share: stage badges, alias and tag pills, a description's first line. */
export function StageBadge({ stage }: { stage?: Stage }) {
  const s = stage ?? 'None';
  return <span class={`stage stage-${s}`}>{s}</span>;
}

/** A version number linking to its page. */
export function VersionLink({ name, version }: { name: string; version: string }) {
  return (
    <a href={versionHref(name, version)} onClick={linkHandler} class="version-link">
      v{version}
    </a>
  );
}

/** `@champion → v3` for each alias of a model, or `@champion` for those of one version. */
export function AliasPills({ name, aliases }: { name: string; aliases: { alias: string; version?: string }[] }) {
  if (aliases.length === 0) return <span class="muted">—</span>;
  return (
    <span class="pills">
      {[...aliases]
        .sort((a, b) => a.alias.localeCompare(b.alias))
        .map((a) => (
          <span key={a.alias} class="pill alias" data-alias={a.alias}>
            @{a.alias}
            {a.version !== undefined && (
              <>
                {' → '}
                <VersionLink name={name} version={a.version} />
              </>
            )}
          </span>
        ))}
    </span>
  );
}

export function TagPills({ tags }: { tags?: KeyValue[] }) {
  if (!tags?.length) return <span class="muted">—</span>;
  return (
    <span class="pills">
      {tags.map((t) => (
        <span key={t.key} class="pill tag" title={`${t.key}: ${t.value}`}>
          {t.key}
          {t.value ? `: ${t.value}` : ''}
        </span>
      ))}
    </span>
  );
}

/** The latest version of each stage, as `latest_versions` answers it. */
export function latestByStage(m: RegisteredModel): Partial<Record<Stage, ModelVersion>> {
  const out: Partial<Record<Stage, ModelVersion>> = {};
  for (const v of m.latest_versions ?? []) {
    const s = v.current_stage ?? 'None';
    if (!out[s] || Number(v.version) > Number(out[s]!.version)) out[s] = v;
  }
  return out;
}

/** The first line of a markdown description, shortened. */
export function excerpt(text?: string, max = 80): string {
  const line = (text ?? '').split('\n').find((l) => l.trim()) ?? '';
  const plain = line.replace(/^#+\s*/, '').replace(/[*_`]/g, '').trim();
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}

export const when = (t?: number) => (t ? new Date(t).toLocaleString() : '—');
