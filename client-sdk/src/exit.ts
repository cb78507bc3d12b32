// Ends the runs a process started when the process ends: FINISHED on a normal exit, KILLED on SIGINT or
// SIGTERM (then the process dies of that signal, exit status 130/143), FAILED on an uncaught exception
// or an unhandled rejection (then the error is printed and the process exits 1). Each end is bounded.
//
// The process-level listeners are installed once, however many Lablog instances register. They step
// aside where the program made its own choice: if it has its own SIGINT/SIGTERM listener, the runs are
// ended KILLED but exiting is left to that listener; if it has its own 'uncaughtException' listener (the
// program survives the error), nothing is done. process.exit() skips 'beforeExit': runs still open then
// are not ended (what the batcher already spooled or sent is kept).

type Status = 'FINISHED' | 'FAILED' | 'KILLED';
interface EndableRun {
  end(status: Status, o?: { timeoutMs?: number }): Promise<void>;
}
export interface ExitTarget {
  activeRuns(): EndableRun[];
}

interface Registration {
  lab: ExitTarget;
  timeoutMs: number;
}

const registrations: Registration[] = [];
/** Runs an exit path already asked to end, so a failing end() cannot loop 'beforeExit' forever. */
const attempted = new WeakSet<object>();
let installed = false;
let signalled = false;
let failing = false;

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type Sig = keyof typeof SIGNALS;

/** Ends every active run of every registered Lablog with `status`, each bounded by its timeoutMs. */
async function endAll(status: Status, onlyNew: boolean): Promise<void> {
  const work: Promise<unknown>[] = [];
  for (const { lab, timeoutMs } of registrations) {
    let runs: EndableRun[];
    try {
      runs = lab.activeRuns();
    } catch {
      continue;
    }
    for (const run of runs) {
      if (onlyNew && attempted.has(run)) continue;
      attempted.add(run);
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        // A little past the run's own budget: end() is expected to give up by itself at timeoutMs.
        timer = setTimeout(resolve, timeoutMs + 1000);
      });
      const ending = Promise.resolve()
        .then(() => run.end(status, { timeoutMs }))
        .catch((err: unknown) => {
          process.stderr.write(`lablog: could not end a run as ${status}: ${(err as Error)?.message ?? err}\n`);
        });
      work.push(Promise.race([ending, bound]).finally(() => clearTimeout(timer)));
    }
  }
  await Promise.all(work);
}

function onBeforeExit(): void {
  if (signalled || failing) return;
  // Only runs not tried before: the event loop empties again after these ends, and 'beforeExit' fires
  // again; by then they are ended (or their end failed and is not retried).
  void endAll('FINISHED', true);
}

function onSignal(sig: Sig): void {
  const code = 128 + SIGNALS[sig];
  if (signalled) {
    // A second Ctrl-C while flushing: give up waiting.
    process.exit(code);
  }
  signalled = true;
  const othersListen = process.listenerCount(sig) > 1;
  void endAll('KILLED', false).then(() => {
    if (othersListen) return; // the program's own handler decides when to exit
    reraise(sig, code);
  });
}

/** Dies of the signal (so a parent shell sees it), with the conventional exit code as a fallback. */
function reraise(sig: Sig, code: number): void {
  process.removeListener(sig, handlers[sig]);
  try {
    process.kill(process.pid, sig);
  } catch {
    process.exit(code);
  }
  // Windows, or a disposition that ignores the signal: this (ref'd) timer ends the process instead.
  setTimeout(() => process.exit(code), 500);
}

function onUncaught(err: unknown, origin: string): void {
  if (process.listenerCount('uncaughtException') > 1) return; // the program handles its errors itself
  if (failing) {
    // An error while ending the runs: report it too, and do not wait any longer.
    printError(err, origin);
    process.exit(1);
  }
  failing = true;
  printError(err, origin);
  void endAll('FAILED', false).then(() => process.exit(1));
}

function printError(err: unknown, origin: string): void {
  const text = err instanceof Error ? (err.stack ?? String(err)) : `${origin === 'unhandledRejection' ? 'Unhandled rejection' : 'Uncaught exception'}: ${String(err)}`;
  process.stderr.write(`${text}\n`);
}

const handlers = {
  SIGINT: () => onSignal('SIGINT'),
  SIGTERM: () => onSignal('SIGTERM'),
};

function onUnhandledRejection(reason: unknown): void {
  // With Node's default --unhandled-rejections=throw this would become an uncaught exception; with
  // another mode, or another listener, the program chose otherwise.
  if (process.listenerCount('unhandledRejection') > 1) return;
  const mode = process.execArgv.concat((process.env.NODE_OPTIONS ?? '').split(/\s+/)).find((a) => a.startsWith('--unhandled-rejections='));
  const value = mode?.split('=')[1];
  // 'strict' raises it as an uncaught exception anyway (handled there); the other modes keep running.
  if (value !== undefined && value !== 'throw') return;
  onUncaught(reason, 'unhandledRejection');
}

/**
 * Registers `lab` so that its active runs are ended when the process ends. Call once per Lablog;
 * the process listeners are installed only once. `timeoutMs` (default 10 s) bounds each run's end.
 */
export function registerExitHandlers(lab: ExitTarget, opts: { timeoutMs?: number } = {}): void {
  if (registrations.some((r) => r.lab === lab)) return;
  registrations.push({ lab, timeoutMs: opts.timeoutMs ?? 10_000 });
  if (installed) return;
  installed = true;
  process.on('beforeExit', onBeforeExit);
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandledRejection);
}

/** Removes `lab` (e.g. when it is closed); the process listeners stay, doing nothing without labs. */
export function unregisterExitHandlers(lab: ExitTarget): void {
  const i = registrations.findIndex((r) => r.lab === lab);
  if (i >= 0) registrations.splice(i, 1);
}
