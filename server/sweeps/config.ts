import { randomInt } from 'node:crypto';
import { invalid } from '../errors.js';
import { enumerateGrid, gridSize } from './grid.js';
import { normalizeSpace, spaceToRaw } from './space.js';
import { TPE_DEFAULTS } from './tpe.js';
import type { Assignment, Goal, RawParam, Space } from './types.js';

export type SweepMethod = 'grid' | 'random' | 'bayes';

/** A sweep config as the create request gives it (already shape-checked by the API's zod schema). */
export interface SweepConfigInput {
  method: SweepMethod;
  metric: { name: string; goal: Goal };
  parameters: Record<string, RawParam>;
  run_cap?: number;
  early_terminate?: { type: 'asha' | 'median'; min_iter?: number; eta?: number; min_trials?: number };
  seed?: number;
  heartbeat_timeout_ms?: number;
  tpe?: { n_startup_trials?: number; n_ei_candidates?: number };
}

/** The normalized config: every default filled in, stored as JSON and echoed on the wire. */
export interface SweepConfig {
  method: SweepMethod;
  metric: { name: string; goal: Goal };
  parameters: Record<string, RawParam>;
  run_cap: number | null;
  early_terminate: { type: 'asha'; min_iter: number; eta: number } | { type: 'median'; min_iter: number; min_trials: number } | null;
  seed: number;
  heartbeat_timeout_ms: number;
  tpe: { n_startup_trials: number; n_ei_candidates: number };
}

/** A config with what the algorithms need precomputed. */
export interface LoadedConfig {
  config: SweepConfig;
  space: Space;
  /** Grid sweeps only: the number of points, counted without listing them. */
  gridSize: number | null;
  /**
   * Grid sweeps only: every point, in hand-out order. Listed on first use and kept: reading or listing
   * sweeps needs only the size, and a grid may hold 100,000 points.
   */
  grid(): Assignment[] | null;
}

const DEFAULT_HEARTBEAT_TIMEOUT_MS = 600_000;

function withGrid(config: SweepConfig, space: Space, size: number | null): LoadedConfig {
  let points: Assignment[] | null = null;
  return { config, space, gridSize: size, grid: () => (size === null ? null : (points ??= enumerateGrid(space))) };
}

export function normalizeConfig(input: SweepConfigInput): LoadedConfig {
  const space = normalizeSpace(input.parameters);
  const size = input.method === 'grid' ? gridSize(space) : null;
  if (size !== null && input.run_cap !== undefined && input.run_cap > size) {
    throw invalid(`run_cap ${input.run_cap} is larger than the grid (${size} points)`);
  }
  const et = input.early_terminate;
  const config: SweepConfig = {
    method: input.method,
    metric: { name: input.metric.name, goal: input.metric.goal },
    parameters: spaceToRaw(space),
    run_cap: input.run_cap ?? size,
    early_terminate:
      et === undefined
        ? null
        : et.type === 'asha'
          ? { type: 'asha', min_iter: et.min_iter ?? 1, eta: et.eta ?? 3 }
          : { type: 'median', min_iter: et.min_iter ?? 1, min_trials: et.min_trials ?? 5 },
    seed: input.seed ?? randomInt(0, 2 ** 31),
    heartbeat_timeout_ms: input.heartbeat_timeout_ms ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    tpe: {
      n_startup_trials: input.tpe?.n_startup_trials ?? TPE_DEFAULTS.nStartupTrials,
      n_ei_candidates: input.tpe?.n_ei_candidates ?? TPE_DEFAULTS.nEiCandidates,
    },
  };
  if (config.early_terminate?.type === 'asha' && config.early_terminate.eta < 2) throw invalid('early_terminate.eta must be at least 2');
  return withGrid(config, space, size);
}

/** The stored config back into its precomputed form (it was validated when the sweep was created). */
export function loadConfig(json: string): LoadedConfig {
  const config = JSON.parse(json) as SweepConfig;
  const space = normalizeSpace(config.parameters);
  return withGrid(config, space, config.method === 'grid' ? gridSize(space) : null);
}

/**
 * Whether a create call describes the sweep that exists: the same normalized config, where a call
 * that names no seed accepts the stored one (so every worker can send the same create request).
 */
export function sameConfig(existing: SweepConfig, requested: SweepConfig, requestedSeed: number | undefined): boolean {
  const a = { ...existing, seed: 0 };
  const b = { ...requested, seed: 0 };
  return JSON.stringify(a) === JSON.stringify(b) && (requestedSeed === undefined || requestedSeed === existing.seed);
}
