import type { Logger } from 'pino';
import { freeBytesAt, PROBE_BYTES, probeWritable, type Probe } from './probe.js';

/** How often storage is looked at when no request does it. */
const CHECK_EVERY_MS = 30_000;

export interface StorageStatus {
  writable: boolean;
  /** Why writes fail, in words a client may read; null while writable. */
  reason: string | null;
  /** Space left for the server where it is least; null when the file system does not say. */
  freeBytes: number | null;
}

export type StoragePlace =
  | {
      dir: string;
      /** How messages name it ("the data directory"): server paths stay out of what clients read. */
      where: string;
    }
  /** Storage that is no directory (an S3 bucket): its own probe, no free space to watch. */
  | { where: string; probe: () => Promise<Probe> };

const probePlace = (p: StoragePlace) => ('probe' in p ? p.probe() : probeWritable(p.dir, p.where));

export type StorageHealth = ReturnType<typeof createStorageHealth>;

/**
 * Whether the server can store writes, for /health and the log. A write that fails on the disk marks
 * storage unwritable at once; a probe (a small file written and removed in each place) finds out when
 * it is writable again. While unwritable every look at the status probes afresh, so /health turns back
 * as soon as space returns; while writable a timer looks at the free space now and then (no write) and
 * probes when it runs low, so a disk that fills while no one writes shows too.
 */
export function createStorageHealth(opts: {
  places: StoragePlace[];
  /** Set when the database had to be opened read-only: no disk space can fix that, only a restart. */
  readOnlyBecause?: string | null;
  logger?: Logger | false;
}) {
  const log = opts.logger || null;
  const restart = opts.readOnlyBecause ? `the database was opened read-only at start because ${opts.readOnlyBecause}; restart the server once the data directory is writable` : null;
  let status: StorageStatus = { writable: restart === null, reason: restart, freeBytes: null };
  let inFlight: Promise<StorageStatus> | null = null;
  let timer: NodeJS.Timeout | null = null;
  // The start-up check reports itself (start()); later changes are logged as they happen.
  let started = false;

  function set(next: StorageStatus): StorageStatus {
    if (started && next.writable !== status.writable) {
      if (next.writable) log?.info('storage is writable again: writes are stored');
      else log?.warn({ reason: next.reason }, `storage is not writable: ${next.reason}; writes answer 503 TEMPORARILY_UNAVAILABLE, reads go on`);
    }
    status = next;
    return status;
  }

  async function probeAll(): Promise<StorageStatus> {
    const results = await Promise.all(opts.places.map(probePlace));
    const freeBytes = least(results.map((r) => r.freeBytes));
    const failed = results.find((r) => !r.writable);
    if (failed && !failed.writable) return { writable: false, reason: failed.reason, freeBytes };
    return { writable: restart === null, reason: restart, freeBytes };
  }

  async function tick(): Promise<void> {
    // A bucket has no free space to read: only writing tells whether it still takes writes.
    if (!status.writable || opts.places.some((p) => 'probe' in p)) return void (await check());
    const freeBytes = least(await Promise.all(opts.places.map((p) => ('dir' in p ? freeBytesAt(p.dir) : null))));
    if (freeBytes !== null && freeBytes < PROBE_BYTES) await check();
    else if (status.writable) status = { ...status, freeBytes };
  }

  /** Probes now; one probe at a time, callers meanwhile share it. */
  function check(): Promise<StorageStatus> {
    inFlight ??= probeAll()
      .then(set)
      .finally(() => (inFlight = null));
    return inFlight;
  }

  return {
    /** The status for /health: fresh while unwritable (a failing probe costs one refused write), else the last seen. */
    current(): Promise<StorageStatus> {
      return status.writable ? Promise.resolve(status) : check();
    },

    /** A write failed on the disk: unwritable until a probe says otherwise. */
    fault(reason: string): void {
      if (status.writable) set({ ...status, writable: false, reason });
    },

    /** Probes once (the start-up check), then looks again every CHECK_EVERY_MS. */
    async start(): Promise<StorageStatus> {
      const first = await check();
      started = true;
      if (!first.writable) log?.warn({ reason: first.reason }, `storage is not writable: ${first.reason}; the server starts all the same and serves reads, writes answer 503 TEMPORARILY_UNAVAILABLE`);
      timer = setInterval(() => void tick(), CHECK_EVERY_MS);
      timer.unref();
      return first;
    },

    stop(): void {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

function least(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length > 0 ? Math.min(...known) : null;
}
