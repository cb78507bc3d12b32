import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { mlflow, type Experiment, type Run } from '../api.js';
import { linkHandler, setQuery } from '../router.js';
import { ArtifactPreview } from '../components/artifact-preview.js';
import { ArtifactTree, listArtifacts } from '../components/artifact-tree.js';
import { ArtifactUpload, folderOf } from '../components/artifact-upload.js';
import { RunImages } from '../components/image-gallery.js';
import { RunCharts } from '../components/run-charts.js';
import { loggedModelPaths, RunModels } from '../components/run-models.js';
import { RegisterModel } from '../components/register-model.js';
import { useModelAccess } from '../components/model-access.js';
import { KeyValueTable, ReproCard, RunInfoCard, runName, TagTables, tagMap } from '../components/run-info.js';
import { NOTE_TAG, RunNote } from '../components/run-note.js';
import { useAccess } from '../session.js';
import '../components/run-page.css';

const POLL_MS = 2000;
const DIFF_PATH = 'source/git.diff';

/** Reads the run, and keeps reading it every 2 s while it is RUNNING (status, metrics, tags update live). */
function useRun(runId: string) {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [polls, setPolls] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setRun(null);
    setError(null);
    const load = async () => {
      try {
        const { run: r } = await mlflow<{ run: Run }>('GET', 'runs/get', undefined, { run_id: runId });
        if (!live) return;
        setRun(r);
        setError(null);
        if (r.info.status === 'RUNNING') {
          setPolls((n) => n + 1);
          timer = setTimeout(() => void load(), POLL_MS);
        }
      } catch (e) {
        if (!live) return;
        setError((e as Error).message);
        // A network blip should not end live updates of a page that already shows a running run.
        timer = setTimeout(() => void load(), POLL_MS * 2);
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [runId]);
  return { run, setRun, error, polls };
}

export function RunPage({ runId, query }: { runId: string; query: URLSearchParams }) {
  const { run, setRun, error, polls } = useRun(runId);
  const [experiment, setExperiment] = useState<Experiment | null>(null);
  const [hasDiff, setHasDiff] = useState(false);
  const artifactsRef = useRef<HTMLElement>(null);
  const selected = query.get('artifact');
  const [selectedSize, setSelectedSize] = useState<number | undefined>(undefined);
  const experimentId = run?.info.experiment_id;
  const access = useAccess();
  // Bumped after an upload so the tree reads its folders again.
  const [uploads, setUploads] = useState(0);
  // The folder last opened in the tree (until a file is selected): where "Register model" looks for an MLmodel.
  const [openedDir, setOpenedDir] = useState<string | null>(null);
  const [registered, setRegistered] = useState(0);
  const models = useModelAccess();

  useEffect(() => {
    if (!experimentId) return;
    mlflow<{ experiment: Experiment }>('GET', 'experiments/get', undefined, { experiment_id: experimentId }).then(
      (r) => setExperiment(r.experiment),
      () => setExperiment(null),
    );
  }, [experimentId]);

  useEffect(() => {
    listArtifacts(runId, 'source').then(
      (files) => setHasDiff(files.some((f) => f.path === DIFF_PATH)),
      () => setHasDiff(false),
    );
  }, [runId, Math.floor(polls / 5)]);

  const running = run?.info.status === 'RUNNING';

  const metricKeys = useMemo(() => [...new Set((run?.data.metrics ?? []).map((m) => m.key))], [run?.data.metrics]);
  // Stable unless the set of keys changes, so live polls do not re-render every chart.
  const keysSig = metricKeys.slice().sort().join('\u0000');
  const stableKeys = useMemo(() => metricKeys, [keysSig]);

  if (error && !run) return <div class="error" data-testid="run-error">{error}</div>;
  if (!run) return <div class="muted">Loading run…</div>;
  const name = runName(run);
  const tags = tagMap(run);
  const note = tags.get(NOTE_TAG) ?? '';
  const reloadKey = running ? polls * 1000 + uploads : -1 - uploads;

  const select = (path: string | null) => setQuery({ artifact: path });
  const canRegister = access.canEdit(run.info.experiment_id) && models.canCreate;
  const showDiff = () => {
    select(DIFF_PATH);
    artifactsRef.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  };
  const saveNote = (text: string) =>
    setRun((r) => (r ? { ...r, data: { ...r.data, tags: [...(r.data.tags ?? []).filter((t) => t.key !== NOTE_TAG), { key: NOTE_TAG, value: text }] } } : r));

  return (
    <div class="run-page" data-testid="run-page">
      <div class="crumbs muted">
        <a href="/" onClick={linkHandler}>
          Experiments
        </a>{' '}
        /{' '}
        <a href={`/runs?experiments=${encodeURIComponent(run.info.experiment_id)}`} onClick={linkHandler}>
          {experiment?.name ?? run.info.experiment_id}
        </a>{' '}
        /
        {tags.get('lablog.sweep_id') && (
          <>
            {' '}
            <a href={`/sweeps/${encodeURIComponent(tags.get('lablog.sweep_id')!)}`} onClick={linkHandler} data-testid="run-sweep-link">
              sweep {tags.get('lablog.sweep_id')}
            </a>{' '}
            /
          </>
        )}
      </div>
      <h1 data-testid="run-name">
        {name} <span class={`status-badge status-${run.info.status}`}>{run.info.status}</span>
        {running && <span class="live-dot" title="live: updates every 2 s" />}
        {error && <span class="error small"> (update failed: {error})</span>}
      </h1>
      <div class="run-top">
        <RunInfoCard run={run} experimentName={experiment?.name} />
        <div class="run-top-right">
          <ReproCard run={run} hasDiff={hasDiff} onShowDiff={showDiff} />
          <RunNote runId={runId} note={note} canEdit={access.canEdit(run.info.experiment_id)} onSaved={saveNote} />
        </div>
      </div>
      <div class="run-tables">
        <section class="card">
          <h2>Parameters ({run.data.params?.length ?? 0})</h2>
          <KeyValueTable items={run.data.params ?? []} testid="params" empty="No parameters." />
        </section>
        <section class="card">
          <TagTables run={run} />
        </section>
      </div>
      <section>
        <h2>Metrics ({metricKeys.length})</h2>
        <RunCharts runId={runId} label={name} status={run.info.status} keys={stableKeys} reloadKey={reloadKey} />
      </section>
      <RunImages runId={runId} label={name} imagesTag={tags.get('lablog.images')} reloadKey={reloadKey} />
      <section ref={artifactsRef} data-testid="artifacts">
        <h2>Artifacts</h2>
        {access.canEdit(run.info.experiment_id) && <ArtifactUpload runId={runId} folder={folderOf(selected)} onUploaded={() => setUploads((n) => n + 1)} />}
        <div class="artifact-browser card">
          <ArtifactTree
            runId={runId}
            selected={selected}
            reloadKey={reloadKey}
            onOpenDir={setOpenedDir}
            onSelect={(f) => {
              setSelectedSize(f.file_size);
              setOpenedDir(null);
              select(f.path);
            }}
          />
          <div class="artifact-pane">
            {/* In the pane, not above the tree: appearing when a folder opens, it must not move the tree under the pointer. */}
            {canRegister && (
              <RegisterModel runId={runId} folder={openedDir ?? folderOf(selected)} onRegistered={() => setRegistered((n) => n + 1)} />
            )}
            {selected ? <ArtifactPreview runId={runId} path={selected} size={selectedSize} /> : <p class="muted">Select a file to preview it.</p>}
          </div>
        </div>
      </section>
      {/* Below the artifacts, so its table never moves the tree while it loads. */}
      <RunModels
        runId={runId}
        reloadKey={registered}
        logged={loggedModelPaths(tags.get('mlflow.log-model.history'))}
        canRegister={canRegister}
        onRegistered={() => setRegistered((n) => n + 1)}
      />
    </div>
  );
}
