import { z } from 'zod';
import { mlflowRequired } from '../http/validation-messages.js';

// Shared request pieces. Objects are never .strict(): MLflow ignores unknown fields.

const digits = z.string().regex(/^-?\d+$/, 'must be an integer').transform(Number);

/** int64 fields: JSON numbers or numeric strings (protobuf-JSON writers send strings). */
export const int64 = z.union([z.number().int('must be an integer'), digits]).refine(Number.isSafeInteger, 'must be an integer within ±2^53');

/**
 * An int64 field read but not yet checked: a number, or a numeric string as a number. For a schema that
 * checks its integers itself, once per object (see log-batch.schema.ts metricBody): each zod check costs.
 */
export const int64Unchecked = z.union([z.number(), digits]);

export const nonNegInt64 = int64.refine((n) => n >= 0, 'must not be negative');

const SPECIAL_DOUBLES: Record<string, number> = {
  nan: NaN,
  infinity: Infinity,
  '+infinity': Infinity,
  inf: Infinity,
  '+inf': Infinity,
  '-infinity': -Infinity,
  '-inf': -Infinity,
};

/** Doubles: numbers, numeric strings, and "NaN"/"Infinity"/"-Infinity" as protobuf-JSON writes them. Booleans are refused. */
export const double = z.union([
  z.number(),
  z
    .string()
    .transform((s, ctx) => {
      // Own keys only: "__proto__" or "constructor" must not find Object.prototype's members.
      const name = s.trim().toLowerCase();
      if (Object.hasOwn(SPECIAL_DOUBLES, name)) return SPECIAL_DOUBLES[name];
      const n = s.trim() === '' ? NaN : Number(s);
      if (Number.isNaN(n)) {
        ctx.addIssue({ code: 'custom', message: `'${s.slice(0, 50)}' is not a number` });
        return z.NEVER;
      }
      return n;
    }),
]);

/** A string MLflow's handler marks `_assert_required`: absent, null and "" are all "Missing value". */
export const requiredString = z.string().min(1);

export const keyValue = z.object({ key: z.string(), value: z.string().default('') });
export const keyValues = z.array(keyValue).default([]);

/** Query strings give a string for one value and an array for repeated keys. */
export const stringList = z.preprocess(
  (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
  z.array(z.string()),
);

/** Query-string integers arrive as strings. */
export const queryInt = z.preprocess((v) => (Array.isArray(v) ? v[v.length - 1] : v), int64.optional());

/** Experiment ids: strings on the wire; old clients send numbers, which MLflow stringifies. */
export const experimentId = z.union([z.string(), z.number().int().transform(String)]);

export const viewType = z
  .union([
    z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']),
    z.union([z.literal(1), z.literal(2), z.literal(3), z.enum(['1', '2', '3'])]).transform((n) => (['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'] as const)[Number(n) - 1]),
  ])
  .default('ACTIVE_ONLY');

export const runStatus = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);

/** Handlers accept `run_id` or the deprecated `run_uuid`. */
export const runRef = {
  run_id: mlflowRequired(z.string().optional()),
  run_uuid: z.string().optional(),
};

/**
 * Documented request examples (OpenAPI `examples`), kept next to the schema they illustrate; typed as
 * the schema's input, and test/api/openapi.test.ts parses each with the schema and sends it.
 */
export function withExamples<T extends z.ZodType>(schema: T, ...examples: z.input<T>[]): T {
  return schema.meta({ examples }) as T;
}

/** Ids the examples use. */
export const EX = { run: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', experiment: '1' } as const;
