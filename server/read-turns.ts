import { performance } from 'node:perf_hooks';

/**
 * Reads take turns; writes never wait for one. better-sqlite3 is synchronous and one thread serves
 * every request, so a long read (a 200,000-point history, a search) held the event loop and every
 * log-batch that arrived meanwhile waited for all of it. Heavy reads are cut into units (a piece of
 * a history, one search, one series of a sampled read), and each unit first waits for a read slot.
 *
 * Per event-loop turn, read units run for at most READ_BUDGET_MS; then the loop goes round, serving
 * every request that arrived meanwhile (the writes), before the next unit. Alone, reads get the whole
 * thread; under writes they get about READ_BUDGET_MS per turn, and a write waits for at most that much
 * read work (plus the one unit that crossed the budget).
 *
 * Among reads, time is shared evenly between kinds of unit, not between units: a Reader stands for
 * one kind (a piece of a history, a search, one series of a sampled read) and is charged the time its
 * units take; the slot goes to the waiting kind charged least, first come first served within a kind.
 * A history's pieces (well under a millisecond of decoding each; the JSON is written on a worker
 * thread) thus keep flowing beside a queue of searches (several milliseconds each), and neither
 * starves the other. A kind that was idle comes back level with the others, not ahead.
 */
export const READ_BUDGET_MS = 10;

interface Waiter {
  reader: Reader;
  grant: () => void;
}

const waiting: Waiter[] = [];
/** The charge of the kind served last: the least any waiting kind has. */
let floor = 0;
let holding = false;
let scheduled = false;
let turnStart = 0;

export class Reader {
  /** Milliseconds of units run, on the scale of `floor` (read by grant()). */
  charged = 0;

  /** Runs `work` (synchronous) as one unit when its slot comes. */
  async run<T>(work: () => T): Promise<T> {
    await new Promise<void>((grant) => {
      if (!waiting.some((w) => w.reader === this)) this.charged = Math.max(this.charged, floor);
      waiting.push({ reader: this, grant });
      if (!holding) nextTurn();
    });
    const start = performance.now();
    try {
      return work();
    } finally {
      this.charged += performance.now() - start;
      release();
    }
  }
}

function grant(): void {
  if (waiting.length === 0) return;
  let best = 0;
  for (let i = 1; i < waiting.length; i++) if (waiting[i].reader.charged < waiting[best].reader.charged) best = i;
  const [w] = waiting.splice(best, 1);
  holding = true;
  floor = Math.max(floor, w.reader.charged);
  w.grant();
}

function release(): void {
  holding = false;
  if (waiting.length === 0) return;
  if (performance.now() - turnStart < READ_BUDGET_MS) grant();
  else nextTurn();
}

function nextTurn(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    turnStart = performance.now();
    if (!holding) grant();
  });
}
