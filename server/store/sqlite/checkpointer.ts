import { Worker } from 'node:worker_threads';
import type { Db } from '../db.js';

/** SQLite's default: the writer checkpoints itself once the WAL holds this many pages. */
const AUTOCHECKPOINT_PAGES = 1000;

/** WAL pages after which the writer copies the last frames itself, so the WAL starts over (32 MiB of 4 KiB pages). */
const RESTART_PAGES = 8192;
/** A WAL file that grew under load is cut back to this size when it starts over. */
const WAL_SIZE_LIMIT = 32 * 2 ** 20;

/**
 * Moves WAL checkpoints off the writer's thread. By default SQLite checkpoints inside the commit that
 * grows the WAL past 1,000 pages: that commit copies the pages back and fsyncs twice, which measured
 * here as 30-270 ms stalls of the one thread that serves every request (p99 of a 100-point log-batch
 * 35 ms in the store alone, half of all write time). A worker thread with its own connection runs a
 * PASSIVE checkpoint every `intervalMs` instead, and the writer's automatic checkpoints are off. If
 * the worker dies, the writer checkpoints itself again, so the WAL never grows without bound.
 */
export interface Checkpointer {
  close(): Promise<void>;
}

/**
 * The thread starts on the event loop's next turn, not inside the store's open. Not later than that: a
 * thread started a second late, once the disk had filled meanwhile, never truncated the WAL (likely
 * because its first checkpoint has to grow the database file on the full disk), so the WAL's space was
 * never given back (test/reliability/disk.test.ts "a full disk" waits for it in vain).
 */
const START_AFTER_MS = 0;

export function startCheckpointer(db: Db, file: string, intervalMs = 250): Checkpointer {
  let worker: Worker | null = null;
  let stopping = false;
  let exited: Promise<void> = Promise.resolve();
  const start = () => {
    if (stopping || !db.open) return;
    const workerData = { file, intervalMs, restartPages: RESTART_PAGES, sizeLimit: WAL_SIZE_LIMIT };
    const w = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData });
    worker = w;
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    exited = new Promise<void>((resolve) => {
      w.once('exit', () => {
        if (!stopping && db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
        resolve();
      });
    });
    // Under writes that never pause, the worker's checkpoints never catch the WAL's end. A PASSIVE checkpoint
    // here, between two requests, copies the last frames (the worker copied the rest), and the next write
    // starts the WAL over: a pause of a few milliseconds once per RESTART_PAGES.
    w.on('message', () => {
      if (db.open) db.pragma('wal_checkpoint(PASSIVE)');
    });
    // An error also ends the worker ('exit' follows); the writer has taken over by then.
    w.on('error', () => undefined);
    w.unref();
  };
  const timer = setTimeout(start, START_AFTER_MS);
  timer.unref();
  return {
    async close() {
      stopping = true;
      clearTimeout(timer);
      if (!worker) return;
      const w: Worker = worker;
      // Unref'd, the worker would not keep the process alive until it has closed its connection.
      w.ref();
      w.postMessage('stop');
      await exited;
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    },
  };
}
