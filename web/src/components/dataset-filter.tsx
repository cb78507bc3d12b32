import { useEffect, useState } from 'preact/hooks';
import { mlflowAjax, type DatasetSummary } from '../api.js';

/** search-datasets takes at most 20 experiment ids. */
const MAX_EXPERIMENTS = 20;

/** A string literal of the filter language: single quotes, or double ones when the value holds a single quote. */
const quote = (v: string) => (v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v}'`);

/** The filter that picks the runs that logged one dataset (the server's `dataset.` entity). */
export function datasetFilter(d: Pick<DatasetSummary, 'name' | 'digest'>): string {
  return `dataset.name = ${quote(d.name)} AND dataset.digest = ${quote(d.digest)}`;
}

/** `current` AND the dataset's filter (the current filter kept whole, as it may hold an OR). */
export function withDatasetFilter(current: string, d: Pick<DatasetSummary, 'name' | 'digest'>): string {
  const add = datasetFilter(d);
  const cur = current.trim();
  if (!cur) return add;
  if (cur.includes(add)) return cur;
  return `(${cur}) AND ${add}`;
}

/**
 * "Datasets": the distinct datasets the shown experiments' runs logged (MLflow UI's search-datasets),
 * offered as choices; choosing one narrows the filter to the runs that logged it. Hidden when there are none.
 */
export function DatasetFilter({ experiments, onChoose }: { experiments: string[]; onChoose: (d: DatasetSummary) => void }) {
  const [datasets, setDatasets] = useState<DatasetSummary[]>([]);
  const key = experiments.slice(0, MAX_EXPERIMENTS).join(',');
  useEffect(() => {
    setDatasets([]);
    if (!key) return;
    let live = true;
    mlflowAjax<{ dataset_summaries?: DatasetSummary[] }>('experiments/search-datasets', { experiment_ids: key.split(',') }).then(
      (r) => live && setDatasets(r.dataset_summaries ?? []),
      () => live && setDatasets([]),
    );
    return () => void (live = false);
  }, [key]);
  if (!datasets.length) return null;
  return (
    <select
      data-testid="dataset-filter"
      aria-label="datasets"
      value=""
      onChange={(e) => {
        const el = e.currentTarget as HTMLSelectElement;
        const d = datasets[Number(el.value)];
        el.value = '';
        if (d) onChoose(d);
      }}
    >
      <option value="">Datasets…</option>
      {datasets.map((d, i) => (
        <option key={`${d.experiment_id}/${d.name}/${d.digest}/${d.context ?? ''}`} value={String(i)} title={`${d.name} @ ${d.digest}`}>
          {d.name} · {d.digest.slice(0, 8)}
          {d.context ? ` (${d.context})` : ''}
        </option>
      ))}
    </select>
  );
}
