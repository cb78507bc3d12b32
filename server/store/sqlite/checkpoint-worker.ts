// The checkpointer's thread (see checkpointer.ts): its own connection folds the WAL into the database
// file every few hundred milliseconds, so the fsyncs of a checkpoint never stall the writer's thread.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { yieldToEventLoopThread } from '../../background-thread.js';

yieldToEventLoopThread();

const { file, intervalMs, restartPages, sizeLimit } = workerData as { file: string; intervalMs: number; restartPages: number; sizeLimit: number };
const db = new Database(file, { fileMustExist: true });
db.pragma('synchronous = NORMAL');
db.pragma(`journal_size_limit = ${sizeLimit}`);

const timer = setInterval(() => {
  try {
    // PASSIVE: copies what no reader still needs, never waiting for or blocking the writer.
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
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
