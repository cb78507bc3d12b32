// Offline spool files: when the server stays unreachable, a run's log-batch bodies are appended here,
// one JSON line each, and replayed later by sync.ts (`lablog sync`, `lab.sync()`).
//
// File format (`<dir>/<runId>.<pid>.<random>.jsonl`, written by exactly one process):
//   {"runId":"…","idempotencyKey":"…","body":{…log-batch body incl. run_id…}}   one line per entry
//   {"end":true}                                                               written by close()
// Each line goes out in one write(2) on an O_APPEND descriptor, so a crash leaves at most a torn last
// line, which the reader ignores. The end marker tells the reader that no writer will append again.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface SpoolEntry {
  runId: string;
  /** The log-batch JSON body, including run_id. */
  body: object;
  /** Sent as the Idempotency-Key header, so a replay is never written twice. */
  idempotencyKey: string;
  /**
   * The endpoint under /api/2.0/mlflow/ that the body is POSTed to; default 'runs/log-batch'.
   * 'runs/update' (a run's final status while offline) is also replayed, without a key (it is idempotent).
   */
  endpoint?: 'runs/log-batch' | 'runs/update';
}

export interface Spool {
  /** Synchronous; one line per entry, appended in a single write. */
  append(entry: SpoolEntry): void;
  /** Writes the end marker and closes the file; later appends throw. */
  close(): void;
  /** The file's path (the file itself is created by the first append). */
  readonly path: string;
}

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
  const writeLine = (line: string) => {
    if (fd === null) {
      mkdirSync(path.dirname(file), { recursive: true });
      fd = openSync(file, 'a', 0o600);
      openInThisProcess.add(file);
    }
    const buf = Buffer.from(line + '\n', 'utf8');
    let off = 0;
    // One write for a regular file in practice; the loop only guards against a short write.
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  };
  return {
    path: file,
    append(entry) {
      if (closed) throw new Error(`lablog spool ${file} is closed`);
      const line: Record<string, unknown> = { runId: entry.runId, idempotencyKey: entry.idempotencyKey, body: entry.body };
      if (entry.endpoint && entry.endpoint !== 'runs/log-batch') line.endpoint = entry.endpoint;
      writeLine(JSON.stringify(line));
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
