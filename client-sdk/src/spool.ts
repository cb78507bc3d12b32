// Offline spool files: a run's requests that could not go to the server (log-batch bodies, its final
// status, its creation when it started offline, files logged meanwhile) are appended here, one JSON line
// each, and replayed later by sync.ts (`lablog sync`, `lab.sync()`, or the run itself once the server
// answers again).
//
// File format (`<dir>/<runId>.<pid>.<random>.jsonl`, written by exactly one process):
//   {"runId":"…","idempotencyKey":"…","body":{…log-batch body incl. run_id…}}   a log-batch
//   {"runId":"…","endpoint":"runs/update",…}                                  the run's final status
//   {"runId":"…","endpoint":"lablog/runs/create","experiment":"name",…}       a run started offline
//   {"runId":"…","endpoint":"artifact","body":{"path":"…","file":"…"},…}     a file, copied to <file>.files/
//   {"end":true}                                                               written by close()
// Each line goes out in one write(2) on an O_APPEND descriptor, so a crash leaves at most a torn last
// line, which the reader ignores. The end marker tells the reader that no writer will append again.
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Spool as SpoolHooks, SpoolEntry } from './types.js';

export type { SpoolEntry };

/** A spool file of this process (every optional member of the SDK's Spool is there). */
export type Spool = Required<SpoolHooks>;

/** The files this process still has open: sync must not delete them under a live writer. */
const openInThisProcess = new Set<string>();

const SPOOL_SUFFIX = '.jsonl';
export const END_MARKER = '{"end":true}';

/** `<runId>.<pid>.<random>.jsonl`: the pid lets sync tell whether a writer may still be alive. */
function spoolFileName(runId: string, pid = process.pid): string {
  const safe = runId.replace(/[^A-Za-z0-9_-]/g, '_');
  return `${safe}.${pid}.${randomBytes(6).toString('hex')}${SPOOL_SUFFIX}`;
}

/** Parses a spool file name; null when it is not one. */
export function parseSpoolFileName(name: string): { runId: string; pid: number } | null {
  const m = /^(.+)\.(\d+)\.([0-9a-f]+)\.jsonl$/.exec(name);
  return m ? { runId: m[1], pid: Number(m[2]) } : null;
}

export function openSpool(dir: string, runId: string): Spool {
  const file = path.resolve(dir, spoolFileName(runId));
  let fd: number | null = null;
  let closed = false;
  let written = 0;
  const ensureOpen = (): number => {
    if (fd === null) {
      mkdirSync(path.dirname(file), { recursive: true });
      fd = openSync(file, 'a', 0o600);
      openInThisProcess.add(file);
    }
    return fd;
  };
  const writeLine = (line: string) => {
    const out = ensureOpen();
    const buf = Buffer.from(line + '\n', 'utf8');
    let off = 0;
    // One write for a regular file in practice; the loop only guards against a short write.
    while (off < buf.length) off += writeSync(out, buf, off, buf.length - off);
    written += buf.length;
  };
  const append = (entry: SpoolEntry) => {
    if (closed) throw new Error(`lablog spool ${file} is closed`);
    const line: Record<string, unknown> = { runId: entry.runId, idempotencyKey: entry.idempotencyKey, body: entry.body };
    if (entry.endpoint && entry.endpoint !== 'runs/log-batch') line.endpoint = entry.endpoint;
    if (entry.experiment !== undefined) line.experiment = entry.experiment;
    writeLine(JSON.stringify(line));
  };
  return {
    path: file,
    size: () => written,
    append,
    async addFile(runId, artifactPath, source) {
      if (closed) throw new Error(`lablog spool ${file} is closed`);
      ensureOpen(); // the spool file exists before its files: sync never takes them for orphans
      const name = randomBytes(8).toString('hex');
      const copy = path.join(filesDir(file), name);
      await mkdir(filesDir(file), { recursive: true });
      // A copy, not the path: the file may change or go before the sync.
      if (typeof source === 'string') await copyFile(source, copy);
      else await writeFile(copy, source, { mode: 0o600 });
      append({ runId, idempotencyKey: name, endpoint: 'artifact', body: { path: artifactPath, file: name } });
    },
    discard() {
      if (!closed) {
        closed = true;
        if (fd !== null) closeSync(fd);
        fd = null;
        openInThisProcess.delete(file);
      }
      removeSpoolFile(file);
    },
    close() {
      if (closed) return;
      closed = true;
      if (fd === null) return; // nothing was ever spooled: no file
      try {
        writeLine(END_MARKER);
      } finally {
        closeSync(fd);
        fd = null;
        openInThisProcess.delete(file);
      }
    },
  };
}

/** Where the copies of a spool file's artifacts are kept. */
export const filesDir = (file: string) => `${file}.files`;

/** Removes a spool file with its progress file and its artifact copies. */
export function removeSpoolFile(file: string): void {
  for (const p of [file, `${file}.synced`, `${file}.synced.tmp`]) rmSync(p, { force: true });
  rmSync(filesDir(file), { recursive: true, force: true });
}

/** True while a spool file may still get appends: open here, or its writer process is alive. */
export function mayStillBeWritten(file: string, pid: number): boolean {
  const abs = path.resolve(file);
  if (pid === process.pid) return openInThisProcess.has(abs);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
