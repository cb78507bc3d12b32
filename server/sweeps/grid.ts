import { invalid } from '../errors.js';
import { isActive } from './random.js';
import { isDiscrete, paramCanTake, paramValueCount, paramValueOptions } from './space.js';
import type { Assignment, ParamValue, Space } from './types.js';

/** The most points a grid sweep may have: its points are held in memory and stored with the sweep. */
export const GRID_MAX_POINTS = 100_000;

/**
 * Every point of the grid, in hand-out order: the first declared parameter varies slowest. A point
 * holds only the parameters active in it, so a conditional parameter multiplies only the points
 * whose parents enable it.
 */
export function enumerateGrid(space: Space): Assignment[] {
  gridSize(space);
  const points: Assignment[] = [];
  const options = space.map((p) => paramValueOptions(p));
  const chosen: Assignment = {};
  const walk = (i: number): void => {
    if (i === space.length) {
      points.push({ ...chosen });
      return;
    }
    const param = space[i]!;
    if (!isActive(param, chosen)) return walk(i + 1);
    for (const v of options[i]!) {
      chosen[param.name] = v;
      walk(i + 1);
    }
    delete chosen[param.name];
  };
  walk(0);
  return points;
}

/**
 * The number of grid points, counted without listing them so an oversized grid is refused before
 * it fills memory. Throws when a parameter is continuous or the grid exceeds GRID_MAX_POINTS.
 */
export function gridSize(space: Space): number {
  for (const p of space) {
    if (!isDiscrete(p)) {
      throw invalid(
        `grid search needs discrete parameters; '${p.name}' is ${p.kind} (use values, value, int_uniform or q_uniform, or method random or bayes)`,
      );
    }
  }
  const n = countPoints(space);
  if (n > GRID_MAX_POINTS) {
    const limit = GRID_MAX_POINTS.toLocaleString('en-US');
    // Infinity means counting stopped early (or overflowed): the exact size is unknown, only too big.
    const size = !Number.isFinite(n) ? `more than ${limit}` : n < 1e21 ? n.toLocaleString('en-US') : n.toExponential(2);
    throw invalid(`the grid would have ${size} points; a grid sweep may have at most ${limit} (use method random or bayes)`);
  }
  return n;
}

/**
 * Counts points by classes instead of points. Children only ask whether a parent's value is in their
 * `when` list, so the values no child names behave alike (and like the parent being absent): a class
 * is the partial assignment of named parent values, weighted by how many points share it. Returns
 * Infinity once the classes alone outnumber the limit (each class is at least one point).
 */
function countPoints(space: Space): number {
  const named = namedParentValues(space);
  let classes = new Map<string, { chosen: Assignment; weight: number }>([['{}', { chosen: {}, weight: 1 }]]);
  for (const param of space) {
    const next = new Map<string, { chosen: Assignment; weight: number }>();
    const add = (chosen: Assignment, weight: number) => {
      const key = JSON.stringify(chosen);
      const seen = next.get(key);
      if (seen) seen.weight += weight;
      else next.set(key, { chosen, weight });
    };
    const count = paramValueCount(param);
    const values = (named.get(param.name) ?? []).filter((v) => paramCanTake(param, v));
    for (const { chosen, weight } of classes.values()) {
      if (!isActive(param, chosen)) {
        add(chosen, weight);
        continue;
      }
      for (const v of values) add({ ...chosen, [param.name]: v }, weight);
      if (count > values.length) add(chosen, weight * (count - values.length));
    }
    if (next.size > GRID_MAX_POINTS) return Infinity;
    classes = next;
  }
  let total = 0;
  for (const { weight } of classes.values()) total += weight;
  return total;
}

/** For each parameter some later one conditions on, the distinct values the conditions name. */
function namedParentValues(space: Space): Map<string, ParamValue[]> {
  const named = new Map<string, ParamValue[]>();
  for (const p of space) {
    for (const [parent, allowed] of Object.entries(p.when ?? {})) {
      const list = named.get(parent) ?? [];
      for (const v of allowed) if (!list.includes(v)) list.push(v);
      named.set(parent, list);
    }
  }
  return named;
}
