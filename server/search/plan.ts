/**
 * Chooses how a run search executes, from cheap row-count estimates, without knowing any SQL.
 *
 * Two shapes compete. "stream" walks an index already in the requested order (metric/param/tag
 * (key, value) index, or (experiment_id, start_time)) and stops after the page is full, checking
 * each visited run with per-row lookups; it wins when the filter lets many runs through. "full"
 * evaluates the filter as sets, then sorts the survivors; it wins when the filter is selective.
 * Independently, each metric/param/tag condition is either materialized once as a list of run ids
 * ('list', cost ~ rows matching it) or probed per visited run ('exists', cost ~ runs reaching it).
 *
 * The per-row costs are microseconds measured on a seeded 100k-run database; only their ratios
 * matter, and the choice only has to be right by a wide margin to pay off.
 */
import type { Comparison, Expr, OrderKey } from './ast.js';

export type LeafForm = 'list' | 'exists';

export interface Plan {
  stream: boolean;
  /** Form of each metric/param/tag condition; conditions absent here use 'list'. */
  forms: Map<Comparison, LeafForm>;
  /**
   * Full plans only: read the runs table front to back instead of through the experiment index,
   * when most runs are candidates anyway and no list can reject them before their row is read.
   */
  tableScan?: boolean;
}

export interface PlanInput {
  filter: Expr | null;
  /**
   * The ordered index walk available for the requested order: 'key' walks a metric/param/tag
   * (key, value) index (runs arrive in value order, so every lookup lands on a random page), 'start'
   * walks (experiment_id, start_time) (runs arrive roughly in insertion order), 'time' walks the
   * runs' start_time index across all experiments (skipping runs of the others); null: none.
   */
  streamKind: 'key' | 'start' | 'time' | null;
  /** Most rows the ordered walk can visit, and the fraction of them that are candidate runs. */
  streamRows: number;
  streamHitRate: number;
  /** Separate walks whose results are merged (one per experiment for the start_time walk). */
  streamWalks: number;
  /** Rows the page needs: offset + limit + 1. */
  need: number;
  /** Runs in the searched experiments. */
  candidates: number;
  /** All runs in the store (leaf counts are store-wide, so selectivities divide by this). */
  totalRuns: number;
  /** LEFT JOINs the ORDER BY needs per surviving run. */
  orderJoins: number;
  /** Store-wide rows a metric/param/tag condition matches (for IS [NOT] NULL: rows having the key). */
  leafRows: Map<Comparison, number>;
}

const COST = {
  materialize: 0.5, // one run id into a list (index step + table row fetch)
  existsLocal: 0.4, // one correlated lookup, runs visited in id/time order (pages stay hot)
  existsRandom: 2, // one correlated lookup, runs visited in metric-value order
  keyStreamRow: 1.5, // one step of a (key, value) walk: driver row + run row, random pages
  startStreamRow: 0.2, // one step of the (experiment_id, start_time) walk
  timeStreamRow: 0.3, // one step of the start_time walk: the run row is read to know its experiment
  scanRow: 0.2, // one candidate run read through the experiment index, no list narrowing it first
  tableScanRow: 0.08, // one run read by a front-to-back table scan
  probeRow: 0.03, // one candidate run rejected by a list's bloom filter before its row is read
  sortRow: 0.1, // sorting one survivor
  joinRow: 0.4, // one ORDER BY LEFT JOIN for one survivor
};

export function isKeyed(c: Comparison): boolean {
  return c.entity === 'metric' || c.entity === 'param' || c.entity === 'tag';
}

/** Estimated fraction of runs a (sub)expression lets through, assuming independent conditions. */
function selectivity(e: Expr, input: PlanInput): number {
  if (e.kind !== 'cmp') {
    if (e.kind === 'and') return e.items.reduce((s, x) => s * selectivity(x, input), 1);
    return Math.min(1, e.items.reduce((s, x) => s + selectivity(x, input), 0));
  }
  const rows = input.leafRows.get(e);
  const total = Math.max(1, input.totalRuns);
  if (rows !== undefined) {
    const has = Math.min(1, rows / total);
    return e.op === 'IS NULL' ? 1 - has : has;
  }
  if (e.entity === 'attribute' && (e.op === '=' || e.op === 'IN')) {
    // Run ids are unique and names and artifact URIs nearly so; the rest are a guess.
    const one = e.key === 'run_id' ? 1 / total : e.key === 'run_name' || e.key === 'artifact_uri' ? 0.01 : 0.5;
    return Math.min(1, one * (e.op === 'IN' ? (e.value as string[]).length : 1));
  }
  // Attributes and datasets have no cheap count; a middling guess keeps them from dominating.
  return e.op === '!=' || e.op === 'NOT IN' ? 1 : 0.5;
}

/** Picks a form for every keyed condition given how many runs reach it; returns the total cost. */
function assignForms(e: Expr, reaching: number, perProbe: number, input: PlanInput, forms: Map<Comparison, LeafForm>): number {
  if (e.kind === 'cmp') {
    const rows = input.leafRows.get(e);
    if (!isKeyed(e) || rows === undefined) return 0;
    const listCost = rows * COST.materialize;
    const existsCost = reaching * perProbe;
    forms.set(e, listCost <= existsCost ? 'list' : 'exists');
    return Math.min(listCost, existsCost);
  }
  if (e.kind === 'or') return e.items.reduce((sum, x) => sum + assignForms(x, reaching, perProbe, input, forms), 0);
  // In an AND, the most selective conditions narrow the runs that later ones must check.
  const ordered = [...e.items].sort((a, b) => selectivity(a, input) - selectivity(b, input));
  let cost = 0;
  let left = reaching;
  for (const x of ordered) {
    cost += assignForms(x, left, perProbe, input, forms);
    left *= selectivity(x, input);
  }
  return cost;
}

function hasTopLevelList(e: Expr, forms: Map<Comparison, LeafForm>): boolean {
  if (e.kind === 'cmp') return forms.get(e) === 'list' && e.op !== 'IS NULL';
  return e.kind === 'and' && e.items.some((x) => hasTopLevelList(x, forms));
}

export function planRunSearch(input: PlanInput): Plan & { cost: { stream: number; full: number } } {
  const n = Math.max(1, input.candidates);
  const kind = input.streamKind;
  const stepCost = kind === 'key' ? COST.keyStreamRow : kind === 'time' ? COST.timeStreamRow : COST.startStreamRow;
  if (input.filter === null) {
    const tableScan = n * COST.scanRow > Math.max(n, input.totalRuns) * COST.tableScanRow;
    const full = (tableScan ? Math.max(n, input.totalRuns) * COST.tableScanRow : n * COST.scanRow) + n * COST.sortRow;
    // A walk over a store-wide index (a key's values, start_time) also passes the runs of other
    // experiments: it loses to sorting the candidates when those are a small part of the store.
    const visited = Math.min(input.streamRows, (input.streamWalks * input.need) / Math.max(input.streamHitRate, 1e-9));
    const stream = kind === null ? Infinity : visited * stepCost;
    return { stream: stream <= full, forms: new Map(), tableScan: stream > full && tableScan, cost: { stream, full } };
  }
  const s = Math.max(selectivity(input.filter, input), 1e-9);

  // The candidates' rows (and their params and metrics) lie together only when they are most of the
  // store; an experiment among many has its runs interleaved with the others' (they ran at the same
  // time), so each candidate costs about a random page. Measured on a 250,000-run store: ~10 µs a
  // candidate in an experiment holding a tenth of it.
  const apart = 1 - Math.min(1, n / Math.max(1, input.totalRuns));
  const fullProbe = COST.existsLocal + (COST.existsRandom - COST.existsLocal) * apart;
  const scanRow = COST.scanRow + (COST.keyStreamRow - COST.scanRow) * apart;
  const fullForms = new Map<Comparison, LeafForm>();
  let full = assignForms(input.filter, n, fullProbe, input, fullForms);
  const probed = hasTopLevelList(input.filter, fullForms);
  const tableScan = !probed && n * scanRow > Math.max(n, input.totalRuns) * COST.tableScanRow;
  full += probed ? n * COST.probeRow : tableScan ? Math.max(n, input.totalRuns) * COST.tableScanRow : n * scanRow;
  full += n * s * (COST.sortRow + input.orderJoins * COST.joinRow);
  const fullPlan = { stream: false, forms: fullForms, tableScan };

  if (kind === null) return { ...fullPlan, cost: { stream: Infinity, full } };

  const visited = Math.min(input.streamRows, (input.streamWalks * input.need) / (s * Math.max(input.streamHitRate, 1e-9)));
  const streamForms = new Map<Comparison, LeafForm>();
  const perProbe = kind === 'key' ? COST.existsRandom : COST.existsLocal;
  let stream = assignForms(input.filter, visited, perProbe, input, streamForms);
  stream += visited * stepCost + input.need * input.orderJoins * (kind === 'key' ? COST.existsRandom : COST.joinRow);

  return stream <= full ? { stream: true, forms: streamForms, cost: { stream, full } } : { ...fullPlan, cost: { stream, full } };
}

/** Experiments walked one by one and merged for a start_time order; beyond this, one sort is cheaper. */
const MAX_MERGED_WALKS = 8;

/** Which ordered index walk serves the requested order, if any. */
export function streamKindOf(orderBy: OrderKey[], experiments: number): PlanInput['streamKind'] {
  const first = orderBy[0];
  if (first !== undefined && first.entity !== 'attribute') return 'key';
  const byStart = first === undefined || (first.entity === 'attribute' && first.key === 'start_time');
  if (!byStart) return null;
  // (experiment_id, start_time) is ordered within one experiment; a few are walked one by one and
  // merged, which needs the order to be start_time alone (plus the run_uuid tie-break). More
  // experiments (the web UI's "all experiments") walk the store-wide start_time index instead.
  return experiments === 1 || (orderBy.length <= 1 && experiments <= MAX_MERGED_WALKS) ? 'start' : 'time';
}

export function keyedLeaves(e: Expr | null, out: Comparison[] = []): Comparison[] {
  if (e === null) return out;
  if (e.kind === 'cmp') {
    if (isKeyed(e)) out.push(e);
  } else {
    for (const x of e.items) keyedLeaves(x, out);
  }
  return out;
}

/** Experiment ids arrive as strings; anything that is not a non-negative integer matches nothing. */
export function numericIds(ids: string[]): number[] {
  const out = new Set<number>();
  for (const s of ids) {
    const t = String(s).trim();
    if (/^\d+$/.test(t) && Number.isSafeInteger(Number(t))) out.add(Number(t));
  }
  return [...out];
}

/** Offset and limit as whole numbers; a non-positive limit would page forever, so it yields nothing. */
export function pageWindow(q: { offset: number; limit: number }): { offset: number; limit: number } | null {
  const limit = Math.floor(q.limit);
  return limit >= 1 ? { offset: Math.max(0, Math.floor(q.offset) || 0), limit } : null;
}
