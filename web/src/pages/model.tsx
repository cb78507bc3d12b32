import { useEffect, useState } from 'preact/hooks';
import { linkHandler } from '../router.js';
import { errorText } from '../components/account-api.js';
import { AliasEditor } from '../components/alias-editor.js';
import { DescriptionCard } from '../components/description-card.js';
import { ModelActions } from '../components/model-actions.js';
import { useModelAccess } from '../components/model-access.js';
import { when } from '../components/model-bits.js';
import { ModelVersionsTable } from '../components/model-versions.js';
import { PermissionsDialog } from '../components/permissions-dialog.js';
import { deleteModelTag, getModel, setModelTag, updateModel, versionsOfModel, type ModelVersion, type RegisteredModel } from '../components/registry-api.js';
import { TagEditor } from '../components/tag-editor.js';
import '../components/run-page.css';
import '../components/models.css';

/** One registered model and its versions; reads both again after every change made from the page. */
export function useModel(name: string) {
  const [model, setModel] = useState<RegisteredModel | null>(null);
  const [versions, setVersions] = useState<ModelVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let live = true;
    Promise.all([getModel(name), versionsOfModel(name)]).then(
      ([m, v]) => {
        if (!live) return;
        setModel(m);
        setVersions(v);
        setError(null);
      },
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [name, reload]);
  return { model, versions, error, reload: () => setReload((n) => n + 1) };
}

/** A registered model: description, tags, aliases, its versions with their runs, and the writes on them. */
export function ModelPage({ name }: { name: string }) {
  const { model, versions, error, reload } = useModel(name);
  const access = useModelAccess();
  const [sharing, setSharing] = useState(false);
  if (error && !model) return <div class="error" data-testid="model-error">{error}</div>;
  if (!model || !versions) return <div class="muted">Loading model…</div>;
  const canEdit = access.canEdit(name);
  const canManage = access.canManage(name);
  const after = (work: Promise<unknown>) => work.then(reload);

  return (
    <div class="model-page" data-testid="model-page">
      <div class="crumbs muted">
        <a href="/models" onClick={linkHandler}>
          Models
        </a>{' '}
        /
      </div>
      <h1 data-testid="model-name">
        {model.name}
        <ModelActions me={access.me} name={model.name} canRename={canEdit} canManage={canManage} onPermissions={() => setSharing(true)} />
      </h1>
      <p class="muted model-meta">
        Created {when(model.creation_timestamp)}
        {model.user_id ? ` by ${model.user_id}` : ''} · last modified {when(model.last_updated_timestamp)}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="model-top">
        <DescriptionCard text={model.description ?? ''} canEdit={canEdit} onSave={(text) => after(updateModel(name, text))} />
        <div>
          <TagEditor tags={model.tags ?? []} canEdit={canEdit} canDelete={canEdit} onSet={(k, v) => after(setModelTag(name, k, v))} onDelete={(k) => after(deleteModelTag(name, k))} />
          <AliasEditor name={name} aliases={model.aliases ?? []} versions={versions.map((v) => v.version)} canEdit={canEdit} canDelete={canEdit} onChanged={reload} />
        </div>
      </div>
      <section>
        <h2>Versions ({versions.length})</h2>
        <ModelVersionsTable versions={versions} canEdit={canEdit} onChanged={reload} />
      </section>
      {sharing && <PermissionsDialog me={access.me} target={{ registered_model_name: name }} title={name} onClose={() => setSharing(false)} />}
    </div>
  );
}
