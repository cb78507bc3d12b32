import { Worker } from 'node:worker_threads';
import { Reader } from '../read-turns.js';
import { pointsJson, type Segment } from './metric-json.js';

/**
 * Writing metric points as JSON is most of the cost of a long history (a value's shortest decimal text
 * alone is about half a microsecond), so it runs on a worker thread: the event loop only decodes
 * chunks and hands pieces over, and the second core does the writing. One worker, started on first
 * use and not keeping the process alive when idle. Should it fail to start, pieces are written inline,
 * each as a read unit.
 */
let worker: Worker | null = null;
let unusable = false;
let nextId = 1;
/** Pieces written here when the worker cannot start: a kind of read unit (read-turns.ts). */
const inline = new Reader();
const pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();

function start(): Worker | null {
  if (unusable) return null;
  let answered = false;
  const w = new Worker(new URL('./metric-json.worker.js', import.meta.url));
  w.unref();
  w.on('message', ({ id, bytes }: { id: number; bytes: Uint8Array }) => {
    answered = true;
    const p = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) w.unref();
    p?.resolve(toBuffer(bytes));
  });
  const fail = (err: Error) => {
    if (worker !== w) return;
    worker = null;
    // A worker that never answered cannot be started here (e.g. its file is missing): write inline from now on.
    if (!answered) unusable = true;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`metric JSON worker exited with code ${code}`)));
  worker = w;
  return w;
}

/** `lead` and the segments' points as JSON (see pointsJson), written on the worker thread. */
export function pointsJsonOffThread(lead: Uint8Array, segments: Segment[]): Promise<Buffer> {
  const w = worker ?? start();
  if (w === null) return inline.run(() => toBuffer(pointsJson(segments, lead)));
  // Copies of the points' ranges, handed over: a view would carry its whole buffer along.
  const transfer: ArrayBuffer[] = [];
  const own = (a: Float64Array) => {
    const c = a.slice();
    transfer.push(c.buffer);
    return c;
  };
  const copies = segments.map((g) => ({ head: g.head, tail: g.tail, steps: own(g.steps), timestamps: own(g.timestamps), values: own(g.values) }));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (pending.size === 1) w.ref();
    w.postMessage({ id, lead, segments: copies }, transfer);
  });
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
