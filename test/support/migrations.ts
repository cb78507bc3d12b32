import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A copy of a migrations dir (SQLite's or PostgreSQL's) whose journal stops at `lastIdx`: the
 * migrations a database older than the rest would have seen. The caller removes the dir.
 */
export function migrationsUpTo(migrationsDir: string, lastIdx: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-migrations-'));
  cpSync(migrationsDir, dir, { recursive: true });
  const journalFile = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { idx: number }[] };
  journal.entries = journal.entries.filter((e) => e.idx <= lastIdx);
  writeFileSync(journalFile, JSON.stringify(journal));
  return dir;
}
