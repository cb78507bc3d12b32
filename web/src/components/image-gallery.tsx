import { useEffect, useMemo, useState } from 'preact/hooks';
import { listArtifacts } from './artifact-tree.js';
import { previewUrl } from './artifact-preview.js';
import './run-page.css';

export interface GalleryRun {
  runId: string;
  label: string;
}

interface StepImage {
  step: number;
  path: string;
}

const STEP_FILE = /\/step_(-?\d+)\.png$/;

/** The images a run logged under one key (`images/<key>/step_<9 digits>.png`), by step. */
export async function listImageSteps(runId: string, imageKey: string): Promise<StepImage[]> {
  const files = await listArtifacts(runId, `images/${imageKey}`);
  const out: StepImage[] = [];
  for (const f of files) {
    const m = f.is_dir ? null : STEP_FILE.exec(`/${f.path}`);
    if (m) out.push({ step: Number(m[1]), path: f.path });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The image of the step nearest to `step` (ties go to the earlier step). */
export function nearest(images: StepImage[], step: number): StepImage | undefined {
  if (images.length === 0) return undefined;
  let lo = 0;
  let hi = images.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (images[mid].step < step) lo = mid + 1;
    else hi = mid;
  }
  const after = images[lo];
  const before = images[lo - 1];
  return before && step - before.step <= after.step - step ? before : after;
}

/** The index in sorted `steps` of the step nearest to `step` (ties go to the earlier step). */
function nearestIndex(steps: number[], step: number): number {
  let best = 0;
  for (let k = 1; k < steps.length; k++) if (Math.abs(steps[k] - step) < Math.abs(steps[best] - step)) best = k;
  return best;
}

/**
 * One image key across runs, side by side, with a step slider over every step any run has; each run
 * shows its image at the nearest step it logged. Reused by the compare page.
 */
export function ImageGallery({
  runs,
  imageKey,
  reloadKey,
  step: wantStep,
  onStep,
}: {
  runs: GalleryRun[];
  imageKey: string;
  reloadKey?: number;
  /** Controlled mode (the compare page keeps the step in its URL): the wanted step, null = the latest. */
  step?: number | null;
  onStep?: (step: number | null) => void;
}) {
  const [byRun, setByRun] = useState<Map<string, StepImage[]> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ownIndex, setIndex] = useState<number | null>(null); // null = follow the latest step
  const runKey = runs.map((r) => r.runId).join(',');
  useEffect(() => {
    let live = true;
    Promise.all(runs.map(async (r) => [r.runId, await listImageSteps(r.runId, imageKey).catch(() => [])] as const)).then(
      (pairs) => live && setByRun(new Map(pairs)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [runKey, imageKey, reloadKey]);
  const steps = useMemo(() => [...new Set([...(byRun?.values() ?? [])].flat().map((i) => i.step))].sort((a, b) => a - b), [byRun]);
  if (error) return <div class="error">{error}</div>;
  // Loading, loaded or empty, the gallery keeps one frame (toolbar, fixed image boxes, caption line),
  // so the page below it does not move when the listing or the images arrive.
  const controlled = onStep !== undefined;
  const index = controlled ? (wantStep === null || wantStep === undefined ? null : nearestIndex(steps, wantStep)) : ownIndex;
  const i = steps.length === 0 ? 0 : index === null ? steps.length - 1 : Math.min(index, steps.length - 1);
  const step: number | undefined = steps[i];
  const pick = (n: number) => (controlled ? onStep(n === steps.length - 1 ? null : steps[n]) : setIndex(n));
  const status = !byRun ? 'loading…' : steps.length === 0 ? `no images for ${imageKey}` : `(${i + 1} of ${steps.length})`;
  return (
    <div class="image-gallery card" data-testid="image-gallery" data-key={imageKey} data-step={step} data-loaded={byRun ? '1' : '0'}>
      <div class="toolbar">
        <strong>{imageKey}</strong>
        <input
          type="range"
          data-testid="step-slider"
          min={0}
          max={Math.max(0, steps.length - 1)}
          step={1}
          value={i}
          disabled={steps.length < 2}
          onInput={(e) => pick(Number((e.currentTarget as HTMLInputElement).value))}
        />
        <span data-testid="gallery-step">step {step ?? '–'}</span>
        <span class="muted">{status}</span>
      </div>
      <div class="gallery-row">
        {runs.map((r) => {
          const img = byRun && step !== undefined ? nearest(byRun.get(r.runId) ?? [], step) : undefined;
          return (
            <figure key={r.runId} class="gallery-cell" data-run-id={r.runId}>
              {img ? (
                <img data-testid="gallery-image" data-step={img.step} src={previewUrl(r.runId, img.path)} alt={`${imageKey} step ${img.step}`} />
              ) : (
                <div class="gallery-empty muted">{byRun ? 'no image' : ''}</div>
              )}
              <figcaption>
                {runs.length > 1 && <span>{r.label} · </span>}
                <span class="muted">{img ? `step ${img.step}` : '\u00a0'}</span>
              </figcaption>
            </figure>
          );
        })}
      </div>
    </div>
  );
}

/** The image keys a run's `lablog.images` tag lists (a JSON array), or null without a usable tag. */
export function imageKeysFromTag(tag: string | undefined): string[] | null {
  if (!tag) return null;
  try {
    const keys = JSON.parse(tag);
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : null;
  } catch {
    return null;
  }
}

/** A run's image keys: the tag `lablog.images`, else the folders under `images/`. */
export async function imageKeysOf(runId: string, tag: string | undefined): Promise<string[]> {
  const tagged = imageKeysFromTag(tag);
  if (tagged) return tagged;
  const dirs = await listArtifacts(runId, 'images').catch(() => []);
  return dirs.filter((d) => d.is_dir).map((d) => d.path.replace(/^images\//, ''));
}

/**
 * Every image key of one run, each as a gallery with its own step slider. Keys named by the tag are
 * shown from the first render (no listing to wait for, so the section does not pop in later).
 */
export function RunImages({ runId, label, imagesTag, reloadKey }: { runId: string; label: string; imagesTag?: string; reloadKey?: number }) {
  const tagged = useMemo(() => imageKeysFromTag(imagesTag), [imagesTag]);
  const [listed, setListed] = useState<string[] | null>(null);
  useEffect(() => {
    if (tagged) return;
    let live = true;
    void imageKeysOf(runId, undefined).then((k) => live && setListed(k));
    return () => {
      live = false;
    };
  }, [runId, tagged]);
  const runs = useMemo(() => [{ runId, label }], [runId, label]);
  const keys = tagged ?? listed;
  if (!keys || keys.length === 0) return null;
  return (
    <section data-testid="run-images">
      <h2>Images</h2>
      {keys.map((k) => (
        <ImageGallery key={k} runs={runs} imageKey={k} reloadKey={reloadKey} />
      ))}
    </section>
  );
}

/**
 * The compare page's images: the union of the selected runs' image keys (a picker when there are
 * several), one gallery with the runs side by side and one shared step slider. The key and the step
 * are the caller's (it keeps them in the URL).
 */
export function CompareImages({
  runs,
  imageKey,
  step,
  onChange,
  reloadKey,
}: {
  runs: (GalleryRun & { imagesTag?: string })[];
  imageKey: string | null;
  step: number | null;
  onChange: (changes: { key?: string | null; step?: number | null }) => void;
  reloadKey?: number;
}) {
  const [keys, setKeys] = useState<string[] | null>(null);
  const tagKey = JSON.stringify(runs.map((r) => [r.runId, r.imagesTag ?? null]));
  useEffect(() => {
    let live = true;
    void Promise.all(runs.map((r) => imageKeysOf(r.runId, r.imagesTag).catch(() => [] as string[]))).then((lists) => {
      if (!live) return;
      const seen = new Set<string>();
      for (const l of lists) for (const k of l) seen.add(k);
      setKeys([...seen].sort((a, b) => a.localeCompare(b)));
    });
    return () => {
      live = false;
    };
  }, [tagKey, reloadKey]);
  const galleryRuns = runs.map((r) => ({ runId: r.runId, label: r.label })); // the gallery reloads on its ids, not on identity
  if (!keys) return <div class="muted">Loading images…</div>;
  if (keys.length === 0) return <div class="muted" data-testid="compare-no-images">No images logged by these runs.</div>;
  const key = imageKey && keys.includes(imageKey) ? imageKey : keys[0];
  return (
    <div data-testid="compare-images">
      {keys.length > 1 && (
        <div class="toolbar">
          <label>
            image key{' '}
            <select name="img" value={key} onChange={(e) => onChange({ key: (e.currentTarget as HTMLSelectElement).value, step: null })}>
              {keys.map((k) => (
                <option value={k}>{k}</option>
              ))}
            </select>
          </label>
          <span class="muted">{keys.length} keys</span>
        </div>
      )}
      <ImageGallery key={key} runs={galleryRuns} imageKey={key} reloadKey={reloadKey} step={step} onStep={(s) => onChange({ step: s })} />
    </div>
  );
}
