// The checkpointer's thread (see checkpointer.ts): its own connection folds the WAL into the database
// file every few hundred milliseconds, so the fsyncs of a checkpoint never stall the writer's thread.
import Database from 'better-sqlite3';
import { statfsSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { yieldToEventLoopThread } from '../../background-thread.js';

yieldToEventLoopThread();

const { file, intervalMs, restartPages, sizeLimit } = workerData as { file: string; intervalMs: number; restartPages: number; sizeLimit: number };
// timeout 0: a TRUNCATE checkpoint that would wait for the writer gives up instead (tried next tick).
const db = new Database(file, { fileMustExist: true, timeout: 0 });
db.pragma('synchronous = NORMAL');
db.pragma(`journal_size_limit = ${sizeLimit}`);

/**
 * Near a full disk, a WAL that starts over inside the space it already holds would keep taking writes
 * that the database file may have no room to take back, and a client would not learn the disk is full
 * until that space ran out. There the WAL is truncated at each checkpoint instead, so every commit
 * needs new space and a full disk answers the very next write with SQLITE_FULL (a 503).
 */
const LOW_SPACE = 2 * sizeLimit;
const dir = path.dirname(file);
function lowOnSpace(): boolean {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize < LOW_SPACE;
  } catch {
    return false;
  }
}

const timer = setInterval(() => {
  try {
    // PASSIVE: copies what no reader still needs, never waiting for or blocking the writer.
    const mode = lowOnSpace() ? 'TRUNCATE' : 'PASSIVE';
    const [r] = db.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[];
    // The writer starts the WAL over only when it finds every frame copied, which a writer busy through
    // every checkpoint never does: past restartPages it is asked to copy the few frames left itself.
    if (r.log > restartPages) parentPort!.postMessage({ walPages: r.log });
  } catch {
    // SQLITE_BUSY (another process checkpointing, e.g. a backup): the next tick tries again.
  }
}, intervalMs);

parentPort!.on('message', (msg) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
