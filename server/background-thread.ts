import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * For a worker thread's first line: lowers this thread's scheduling priority (nice 10) so that, when
 * the cores are short, the event-loop thread (every request, every write) gets the CPU first and the
 * background work (writing JSON, checkpoints) waits. Linux only (a thread is addressed by its id,
 * read from /proc/thread-self); elsewhere a no-op.
 */
export function yieldToEventLoopThread(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // not Linux, or no /proc: same priority as the event loop
  }
}
