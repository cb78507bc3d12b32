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

/**
 * One image key across runs, side by side, with a step slider over every step any run has; each run
 * shows its image at the nearest step it logged. Reused by the compare page.
 */
export function ImageGallery({ runs, imageKey, reloadKey }: { runs: GalleryRun[]; imageKey: string; reloadKey?: number }) {
  const [byRun, setByRun] = useState<Map<string, StepImage[]> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [index, setIndex] = useState<number | null>(null); // null = follow the latest step
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
  if (!byRun) return <div class="muted">Loading images…</div>;
  if (steps.length === 0) return <div class="muted">No images for {imageKey}.</div>;
  const i = index === null ? steps.length - 1 : Math.min(index, steps.length - 1);
  const step = steps[i];
  return (
    <div class="image-gallery card" data-testid="image-gallery" data-key={imageKey}>
      <div class="toolbar">
        <strong>{imageKey}</strong>
        <input
          type="range"
          data-testid="step-slider"
          min={0}
          max={steps.length - 1}
          step={1}
          value={i}
          disabled={steps.length < 2}
          onInput={(e) => setIndex(Number((e.currentTarget as HTMLInputElement).value))}
        />
        <span data-testid="gallery-step">step {step}</span>
        <span class="muted">
          ({i + 1} of {steps.length})
        </span>
      </div>
      <div class="gallery-row">
        {runs.map((r) => {
          const img = nearest(byRun.get(r.runId) ?? [], step);
          return (
            <figure key={r.runId} class="gallery-cell">
              {img ? <img data-testid="gallery-image" data-step={img.step} src={previewUrl(r.runId, img.path)} alt={`${imageKey} step ${img.step}`} /> : <div class="muted">no image</div>}
              <figcaption>
                {runs.length > 1 && <span>{r.label} · </span>}
                <span class="muted">{img ? `step ${img.step}` : ''}</span>
              </figcaption>
            </figure>
          );
        })}
      </div>
    </div>
  );
}

/** A run's image keys: the tag `lablog.images` (a JSON array), else the folders under `images/`. */
export async function imageKeysOf(runId: string, tag: string | undefined): Promise<string[]> {
  if (tag) {
    try {
      const keys = JSON.parse(tag);
      if (Array.isArray(keys)) return keys.filter((k): k is string => typeof k === 'string');
    } catch {
      // fall through to the listing
    }
  }
  const dirs = await listArtifacts(runId, 'images').catch(() => []);
  return dirs.filter((d) => d.is_dir).map((d) => d.path.replace(/^images\//, ''));
}

/** Every image key of one run, each as a gallery with its own step slider. */
export function RunImages({ runId, label, imagesTag, reloadKey }: { runId: string; label: string; imagesTag?: string; reloadKey?: number }) {
  const [keys, setKeys] = useState<string[] | null>(null);
  useEffect(() => {
    let live = true;
    void imageKeysOf(runId, imagesTag).then((k) => live && setKeys(k));
    return () => {
      live = false;
    };
  }, [runId, imagesTag]);
  const runs = useMemo(() => [{ runId, label }], [runId, label]);
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
