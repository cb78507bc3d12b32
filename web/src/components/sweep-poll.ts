import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { getSweep, getTrials, type Sweep, type Trial } from './sweep-api.js';

export const POLL_MS = 3000;

/**
 * Whether the sweep can still change: it hands out trials (RUNNING), may again (PAUSED: trials given out
 * before the pause still finish, and another client may resume it), or trials still run (a stopped sweep's
 * running trials end as their workers hear of it). A FINISHED or STOPPED sweep with none running is final.
 */
export const isLive = (s: Sweep) => s.status === 'RUNNING' || s.status === 'PAUSED' || s.counts.running > 0;

/** A trial as far as the page shows it: the heartbeat time changes with every sign of life of a worker. */
const shown = (t: Trial | undefined) => {
  if (!t) return t;
  const { last_heartbeat_time: _hb, ...rest } = t;
  return rest;
};
const signature = (sweep: Sweep, trials: Trial[]) => JSON.stringify([{ ...sweep, best_trial: shown(sweep.best_trial) }, trials.map(shown)]);

interface State {
  id: string;
  sweep: Sweep | null;
  trials: Trial[];
  error: string | null;
  /** How many different snapshots were shown: a poll that saw nothing new adds none (and re-renders nothing). */
  updates: number;
}

export interface SweepView extends State {
  /** Completed reads, written to the page element's data-polls directly, so counting re-renders nothing. */
  polls: number;
  /** Shows the sweep an action answered with, then re-reads everything. */
  set(s: Sweep): void;
  refresh(): void;
}

/**
 * The sweep and its trials, re-read every POLL_MS while the sweep is live (a hidden tab waits). The timer
 * is cleared when the page is left or shows another sweep.
 */
export function useSweep(id: string, page: RefObject<HTMLElement | null>): SweepView {
  const [state, setState] = useState<State>({ id, sweep: null, trials: [], error: null, updates: 0 });
  const [reload, setReload] = useState(0);
  const polls = useRef(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastSeen = '';
    let wasLive = false;
    const polled = () => page.current?.setAttribute('data-polls', String(++polls.current));
    const load = async () => {
      if (document.hidden) {
        timer = setTimeout(load, POLL_MS);
        return;
      }
      try {
        const [sweep, trials] = await Promise.all([getSweep(id), getTrials(id)]);
        if (!live) return;
        const seen = signature(sweep, trials);
        if (seen !== lastSeen) setState((s) => ({ id, sweep, trials, error: null, updates: s.updates + 1 }));
        lastSeen = seen;
        polled();
        wasLive = isLive(sweep);
        if (wasLive) timer = setTimeout(load, POLL_MS);
      } catch (e) {
        if (!live) return;
        setState((s) => ({ ...s, id, error: (e as Error).message }));
        lastSeen = '';
        polled();
        // A network blip should not end the live view of a sweep already shown.
        if (wasLive) timer = setTimeout(load, POLL_MS * 2);
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id, reload]);
  // Until the new sweep's first answer, another sweep's snapshot is not shown under its id.
  const current = state.id === id ? state : { id, sweep: null, trials: [], error: null, updates: state.updates };
  return {
    ...current,
    polls: polls.current,
    set: (s: Sweep) => {
      setState((o) => ({ ...o, sweep: s, updates: o.updates + 1 }));
      setReload((n) => n + 1);
    },
    refresh: () => setReload((n) => n + 1),
  };
}
