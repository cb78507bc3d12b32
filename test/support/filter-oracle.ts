/**
 * The filter language's intended meaning, read directly in memory: the reference the SQL compiler is
 * compared with (test/search/differential.test.ts over a fixture, test/fuzz.test.ts over HTTP).
 * Independent of the store on purpose: it shares only the AST with the code under test.
 */
import type { Comparison, Expr } from '../../server/search/ast.js';

/** What the oracle needs to know of one run. NaN metrics are NaN; a missing entry is undefined. */
export interface RunView {
  metrics: Record<string, number>;
  params: Record<string, string>;
  tags: Record<string, string>;
  attributes: Record<string, string | number | null>;
  /** One entry per logged dataset input: its name, digest and context tag (null when none). */
  datasets: { name: string; digest: string; context: string | null }[];
}

export function likeRegex(pattern: string, insensitive: boolean): RegExp {
  const body = [...pattern].map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, insensitive ? 'is' : 's');
}

/** SQL-style: a missing (NULL) left side, or a NaN one, fails every comparison. */
export function compare(lhs: string | number | null | undefined, c: Comparison): boolean {
  if (c.op === 'IS NULL') return lhs === undefined || lhs === null;
  if (c.op === 'IS NOT NULL') return lhs !== undefined && lhs !== null;
  if (lhs === undefined || lhs === null || (typeof lhs === 'number' && Number.isNaN(lhs))) return false;
  const v = c.value;
  switch (c.op) {
    case '=': return lhs === v;
    case '!=': return lhs !== v;
    case '<': return (lhs as number) < (v as number);
    case '<=': return (lhs as number) <= (v as number);
    case '>': return (lhs as number) > (v as number);
    case '>=': return (lhs as number) >= (v as number);
    case 'LIKE': return likeRegex(v as string, false).test(lhs as string);
    case 'ILIKE': return likeRegex(v as string, true).test(lhs as string);
    case 'IN': return (v as string[]).includes(lhs as string);
    case 'NOT IN': return !(v as string[]).includes(lhs as string);
  }
}

export function matches(run: RunView, e: Expr): boolean {
  if (e.kind !== 'cmp') return e.kind === 'and' ? e.items.every((x) => matches(run, x)) : e.items.some((x) => matches(run, x));
  switch (e.entity) {
    case 'metric': {
      // A NaN metric is present (IS NOT NULL) yet fails every numeric test.
      const has = Object.hasOwn(run.metrics, e.key);
      if (e.op === 'IS NULL' || e.op === 'IS NOT NULL') return (e.op === 'IS NULL') !== has;
      return compare(has ? run.metrics[e.key] : undefined, e);
    }
    case 'param': return compare(Object.hasOwn(run.params, e.key) ? run.params[e.key] : undefined, e);
    case 'tag': return compare(Object.hasOwn(run.tags, e.key) ? run.tags[e.key] : undefined, e);
    case 'attribute': return compare(Object.hasOwn(run.attributes, e.key) ? run.attributes[e.key] : undefined, e);
    case 'dataset':
      return run.datasets.some((d) => compare(e.key === 'context' ? d.context : e.key === 'name' ? d.name : d.digest, e));
  }
}
