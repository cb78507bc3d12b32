import { useEffect, useState } from 'preact/hooks';
import { linkHandler, navigate, setQuery } from '../router.js';
import { errorText } from '../components/account-api.js';
import { AliasPills, excerpt, latestByStage, TagPills, VersionLink, when } from '../components/model-bits.js';
import { useModelAccess } from '../components/model-access.js';
import { createModel, modelHref, nameFilter, searchModels, STAGES, type RegisteredModel } from '../components/registry-api.js';
import { loadMe } from '../session.js';
import '../components/models.css';

const PAGE = 50;

/**
 * The registered models: a name search (MLflow's `name ILIKE '%x%'`), the latest version of each stage,
 * aliases, tags, a description's first line; pages of 50 through `page_token`.
 */
export function ModelsPage({ query }: { query: URLSearchParams }) {
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  // The tokens of the pages before the shown one (the first page has none): Previous pops one.
  const [tokens, setTokens] = useState<(string | undefined)[]>([]);
  const [token, setToken] = useState<string | undefined>(undefined);
  const [page, setPage] = useState<{ models: RegisteredModel[]; next?: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newName, setNewName] = useState('');
  const access = useModelAccess();

  useEffect(() => {
    setTokens([]);
    setToken(undefined);
  }, [q]);
  useEffect(() => {
    let live = true;
    setError(null);
    searchModels({ filter: nameFilter(q), max_results: PAGE, page_token: token }).then(
      (r) => live && setPage({ models: r.registered_models ?? [], next: r.next_page_token || undefined }),
      (e) => live && setError(errorText(e)),
    );
    return () => void (live = false);
  }, [q, token]);

  const create = async () => {
    const name = newName.trim();
    if (!name) return;
    setError(null);
    try {
      await createModel(name);
      // The creator manages the new model: re-read `me` so its controls show.
      if (access.me.auth_enabled) await loadMe();
      navigate(modelHref(name));
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <div class="models-page" data-testid="models-page">
      <h1>Registered models</h1>
      <div class="toolbar">
        <input
          type="search"
          name="model-search"
          placeholder="search by name"
          value={text}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setText(v);
            setQuery({ q: v || null });
          }}
        />
        <span style={{ marginLeft: 'auto' }} />
        {access.canCreate && (
          <>
            <input name="new-model" placeholder="new model name" value={newName} onInput={(e) => setNewName((e.target as HTMLInputElement).value)} onKeyDown={(e) => e.key === 'Enter' && void create()} />
            <button onClick={() => void create()} disabled={!newName.trim()}>
              Create model
            </button>
          </>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {page === null ? <p class="muted">Loading…</p> : <ModelsTable models={page.models} />}
      {page?.models.length === 0 && <p class="muted">No registered models{q ? ` matching "${q}"` : ''}.</p>}
      {page && (tokens.length > 0 || page.next) && (
        <div class="toolbar pager">
          <button
            disabled={tokens.length === 0}
            onClick={() => {
              setToken(tokens[tokens.length - 1]);
              setTokens(tokens.slice(0, -1));
            }}
          >
            ← Previous
          </button>
          <span class="muted">page {tokens.length + 1}</span>
          <button
            data-testid="models-next"
            disabled={!page.next}
            onClick={() => {
              setTokens([...tokens, token]);
              setToken(page.next);
            }}
          >
            Next →
          </button>
        </div>
      )}
    </div>
  );
}

function ModelsTable({ models }: { models: RegisteredModel[] }) {
  if (models.length === 0) return null;
  return (
    <table class="plain models" data-testid="models-table">
      <thead>
        <tr>
          <th>Name</th>
          {STAGES.map((s) => (
            <th key={s}>{s === 'None' ? 'Latest (None)' : s}</th>
          ))}
          <th>Aliases</th>
          <th>Last modified</th>
          <th>Description</th>
          <th>Tags</th>
        </tr>
      </thead>
      <tbody>
        {models.map((m) => {
          const latest = latestByStage(m);
          return (
            <tr key={m.name} data-model={m.name}>
              <td class="name">
                <a href={modelHref(m.name)} onClick={linkHandler}>
                  {m.name}
                </a>
              </td>
              {STAGES.map((s) => (
                <td key={s} data-stage={s}>
                  {latest[s] ? <VersionLink name={m.name} version={latest[s]!.version} /> : <span class="muted">—</span>}
                </td>
              ))}
              <td class="aliases">
                <AliasPills name={m.name} aliases={m.aliases ?? []} />
              </td>
              <td class="muted">{when(m.last_updated_timestamp)}</td>
              <td class="excerpt" title={m.description}>
                {excerpt(m.description)}
              </td>
              <td class="tags">
                <TagPills tags={m.tags} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
