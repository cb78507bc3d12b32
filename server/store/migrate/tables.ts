import { is, Table } from 'drizzle-orm';
import { getTableConfig as pgConfig } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig } from 'drizzle-orm/sqlite-core';
import * as pgSchema from '../postgres/schema.js';
import * as sqliteSchema from '../schema.js';

/** How one table is copied from SQLite to PostgreSQL. */
export interface TablePlan {
  name: string;
  /** Columns copied, by name (both schemas name them alike). */
  columns: string[];
  /** Columns PostgreSQL keeps as boolean where SQLite keeps 0/1. */
  booleans: Set<string>;
  /** Each copied column's PostgreSQL type, for inserting a batch as one array per column. */
  types: string[];
  /** SQLite's key order, so that a resumed copy skips exactly the rows already copied. */
  orderBy: string;
}

/**
 * The tables to copy, parents before children (by PostgreSQL's foreign keys), derived from the two
 * drizzle schemas so that a table added to both is copied without touching this file. A SQLite-only
 * table (metric_chunk_pages, a read accelerator rebuilt from the chunks) is not copied. A column that
 * is PostgreSQL's own identity key but only part of SQLite's key is left for PostgreSQL to number, in
 * the source's order. metric_tail's pieces are the same bytes in both stores, copied as rows.
 */
export function copyPlan(): TablePlan[] {
  const sqlite = new Map(
    Object.values(sqliteSchema)
      .filter((t) => is(t, Table))
      .map((t) => sqliteConfig(t as never))
      .map((c) => [c.name, c]),
  );
  const pg = Object.values(pgSchema)
    .filter((t) => is(t, Table))
    .map((t) => pgConfig(t as never));
  const plans = new Map<string, TablePlan & { parents: string[] }>();
  for (const p of pg) {
    const s = sqlite.get(p.name);
    if (!s) continue;
    const sqliteKey = s.primaryKeys[0]?.columns.map((c) => c.name) ?? s.columns.filter((c) => c.primary).map((c) => c.name);
    const sqliteCols = new Set(s.columns.map((c) => c.name));
    const ownIdentity = (c: (typeof p.columns)[number]) => c.primary && c.generatedIdentity !== undefined && !(sqliteKey.length === 1 && sqliteKey[0] === c.name);
    const copied = p.columns.filter((c) => sqliteCols.has(c.name) && !ownIdentity(c));
    plans.set(p.name, {
      name: p.name,
      columns: copied.map((c) => c.name),
      types: copied.map((c) => c.getSQLType()),
      booleans: new Set(p.columns.filter((c) => c.getSQLType() === 'boolean').map((c) => c.name)),
      orderBy: (sqliteKey.length > 0 ? sqliteKey : ['rowid']).map((c) => `"${c}"`).join(', '),
      parents: p.foreignKeys.map((fk) => pgConfig(fk.reference().foreignTable).name).filter((n) => n !== p.name),
    });
  }
  const ordered: TablePlan[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: string[]) => {
    if (placed.has(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(' -> ')}`);
    const plan = plans.get(name);
    if (!plan) return;
    for (const parent of plan.parents) visit(parent, [...path, name]);
    placed.add(name);
    const { parents: _, ...table } = plan;
    ordered.push(table);
  };
  for (const name of [...plans.keys()].sort()) visit(name, []);
  return ordered;
}
