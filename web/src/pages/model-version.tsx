import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { linkHandler, navigate } from '../router.js';
import { errorText } from '../components/account-api.js';
import { DescriptionCard } from '../components/description-card.js';
import { useModelAccess } from '../components/model-access.js';
import { AliasPills, StageBadge, when } from '../components/model-bits.js';
import { PromoteForm } from '../components/promote-form.js';
import { deleteVersion, deleteVersionTag, downloadUri, getVersion, modelHref, setVersionTag, updateVersion, type ModelVersion } from '../components/registry-api.js';
import { TagEditor } from '../components/tag-editor.js';
import { useRunNames } from '../components/run-names.js';
import '../components/run-page.css';
import '../components/models.css';

/** One model version: stage (and its transition), aliases, run, source, download URI, description, tags. */
export function ModelVersionPage({ name, version }: { name: string; version: string }) {
  const [mv, setMv] = useState<ModelVersion | null>(null);
  const [uri, setUri] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [promoting, setPromoting] = useState(false);
  const access = useModelAccess();
  const runNames = useRunNames([mv?.run_id]);
  useEffect(() => {
    let live = true;
    getVersion(name, version).then(
      (v) => live && (setMv(v), setError(null)),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [name, version, reload]);
  useEffect(() => {
    downloadUri(name, version).then(setUri, () => setUri(null));
  }, [name, version]);

  if (error && !mv) return <div class="error" data-testid="version-error">{error}</div>;
  if (!mv) return <div class="muted">Loading version…</div>;
  const canEdit = access.canEdit(name);
  const canManage = access.canManage(name);
  const after = (work: Promise<unknown>) => work.then(() => setReload((n) => n + 1));
  const remove = async () => {
    if (!confirm(`Delete version ${version} of "${name}"?`)) return;
    try {
      await deleteVersion(name, version);
      navigate(modelHref(name));
    } catch (e) {
      setError(errorText(e));
    }
  };
  const rows: [string, ComponentChildren][] = [
    [
      'Stage',
      <span class="toolbar inline-stage">
        <StageBadge stage={mv.current_stage} />
        {canEdit && !promoting && (
          <button class="small" onClick={() => setPromoting(true)}>
            Transition…
          </button>
        )}
      </span>,
    ],
    ['Aliases', <AliasPills name={name} aliases={(mv.aliases ?? []).map((alias) => ({ alias }))} />],
    ['Registered', `${when(mv.creation_timestamp)}${mv.user_id ? ` by ${mv.user_id}` : ''}`],
    ['Last modified', when(mv.last_updated_timestamp)],
    ['Status', <span title={mv.status_message}>{mv.status ?? 'READY'}{mv.status_message ? ` (${mv.status_message})` : ''}</span>],
    [
      'Run',
      mv.run_id ? (
        <>
          <a href={`/run/${encodeURIComponent(mv.run_id)}`} onClick={linkHandler} data-testid="version-run">
            {runNames[mv.run_id] ?? mv.run_id}
          </a>{' '}
          <code class="muted">{mv.run_id}</code>
        </>
      ) : (
        '—'
      ),
    ],
    ['Source', <code data-testid="version-source">{mv.source}</code>],
    ['Download URI', <code data-testid="download-uri">{uri ?? '—'}</code>],
    [
      'Files',
      <a href={`/model-versions/get-artifact?${new URLSearchParams({ name, version, path: 'MLmodel' })}`} data-testid="mlmodel-link">
        MLmodel
      </a>,
    ],
    ['Load with', <code>{`mlflow.pyfunc.load_model("models:/${name}/${version}")`}</code>],
  ];
  return (
    <div class="model-page" data-testid="version-page">
      <div class="crumbs muted">
        <a href="/models" onClick={linkHandler}>
          Models
        </a>{' '}
        /{' '}
        <a href={modelHref(name)} onClick={linkHandler}>
          {name}
        </a>{' '}
        /
      </div>
      <h1 data-testid="version-title">
        {name} v{version}
        {canManage && (
          <span class="head-action">
            <button onClick={() => void remove()}>Delete version</button>
          </span>
        )}
      </h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {promoting && (
        <PromoteForm
          version={mv}
          onCancel={() => setPromoting(false)}
          onDone={() => {
            setPromoting(false);
            setReload((n) => n + 1);
          }}
        />
      )}
      <div class="model-top">
        <div class="card run-info" data-testid="version-info">
          <dl class="kv">
            {rows.map(([k, v]) => (
              <div key={k} class="kv-row">
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
        </div>
        <div>
          <DescriptionCard text={mv.description ?? ''} canEdit={canEdit} onSave={(text) => after(updateVersion(name, version, text))} />
          <TagEditor
            tags={mv.tags ?? []}
            canEdit={canEdit}
            canDelete={canEdit}
            onSet={(k, v) => after(setVersionTag(name, version, k, v))}
            onDelete={(k) => after(deleteVersionTag(name, version, k))}
          />
        </div>
      </div>
    </div>
  );
}
