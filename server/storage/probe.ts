import { randomUUID } from 'node:crypto';
import { open, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { fsFaultReason } from './faults.js';

/** Enough to tell a full disk from one with room for a small write (SQLite writes 4 KiB pages). */
export const PROBE_BYTES = 64 * 1024;

export type Probe = { writable: true; freeBytes: number | null } | { writable: false; reason: string; code: string | null; freeBytes: number | null };

/**
 * Writes (and removes) a small file in `dir`: the only sure test of a full disk, a read-only mount or
 * missing permissions (access(2) says yes to root on a read-only mount's directory, statfs rounds).
 */
export async function probeWritable(dir: string, where: string): Promise<Probe> {
  const freeBytes = await freeBytesAt(dir);
  const file = path.join(dir, `.lablog-probe-${randomUUID()}`);
  let created = false;
  try {
    const handle = await open(file, 'wx');
    created = true;
    try {
      await handle.write(Buffer.alloc(PROBE_BYTES));
    } finally {
      await handle.close();
    }
    return { writable: true, freeBytes };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? null;
    const reason = fsFaultReason(err, where) ?? `writing to ${where} failed (${code ?? (err as Error).message})`;
    return { writable: false, reason, code, freeBytes };
  } finally {
    if (created) await rm(file, { force: true }).catch(() => undefined);
  }
}

/** Bytes the server may still write where `dir` is; null when the file system does not say. */
export function freeBytesAt(dir: string): Promise<number | null> {
  return statfs(dir)
    .then((s) => s.bavail * s.bsize)
    .catch(() => null);
}
