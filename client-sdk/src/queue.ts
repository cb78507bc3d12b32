import type { LablogApiError } from './errors.js';
import { clientInvalid, jsonDouble, keyProblem, LIMITS, utf8Length, uuid } from './util.js';

/** A log-batch request ready to send: its JSON text, its idempotency key, and what it carries. */
export interface Batch {
  key: string;
  body: string;
  m: number;
  p: number;
  t: number;
  finished: boolean;
}

export const M = 0;
export const P = 1;
export const T = 2;

/**
 * A run's FIFO queues of metrics, params and tags, kept as parallel arrays consumed from a head index
 * (pushing is the only work done on the caller's thread), and the cutting of them into log-batch
 * bodies within MLflow's limits: 1000 metrics, 100 params, 100 tags, 1000 entities, 1,000,000 bytes.
 * Metrics go in their own batches, params and tags in theirs, so that a refused param never takes
 * points down with it. Entities the server would refuse (bad keys, values too long, non-integer steps)
 * are dropped here, reported through `invalid`, and counted as done.
 */
export class Queues {
  private mKeys: string[] = [];
  private mVals: number[] = [];
  private mSteps: number[] = [];
  private mTs: number[] = [];
  private mHead = 0;
  private mBase = 0;
  private pKeys: string[] = [];
  private pVals: string[] = [];
  private pHead = 0;
  private pBase = 0;
  private tKeys: string[] = [];
  private tVals: string[] = [];
  private tHead = 0;
  private tBase = 0;
  /** Entities dropped while cutting batches, per kind (they count as done). */
  readonly dropped = [0, 0, 0];
  private readonly goodKeys = new Set<string>();
  private readonly badKeys = new Set<string>();
  private readonly prefix: string;

  /** `invalid(err, repeat)`: an entity was dropped; `repeat` when the same problem was reported before. */
  constructor(runId: string, private readonly invalid: (err: LablogApiError, repeat: boolean) => void) {
    this.prefix = `{"run_id":${JSON.stringify(runId)},`;
  }

  /** Appends points; true when a full batch of metrics is waiting. */
  pushMetrics(metrics: Record<string, number>, step: number, timestamp: number): boolean {
    for (const k in metrics) {
      this.mKeys.push(k);
      this.mVals.push(metrics[k]);
      this.mSteps.push(step);
      this.mTs.push(timestamp);
    }
    return this.mKeys.length - this.mHead >= LIMITS.metrics;
  }

  pushParam(key: string, value: string): boolean {
    this.pKeys.push(key);
    this.pVals.push(value);
    return this.pKeys.length - this.pHead >= LIMITS.params;
  }

  pushTag(key: string, value: string): boolean {
    this.tKeys.push(key);
    this.tVals.push(value);
    return this.tKeys.length - this.tHead >= LIMITS.tags;
  }

  /** Entities ever pushed, per kind. */
  logged(): number[] {
    return [this.mBase + this.mKeys.length, this.pBase + this.pKeys.length, this.tBase + this.tKeys.length];
  }

  /** Entities ever taken out (into batches, or dropped), per kind. */
  taken(): number[] {
    return [this.mBase + this.mHead, this.pBase + this.pHead, this.tBase + this.tHead];
  }

  get empty(): boolean {
    return this.mHead === this.mKeys.length && this.pHead === this.pKeys.length && this.tHead === this.tKeys.length;
  }

  get full(): boolean {
    return this.mKeys.length - this.mHead >= LIMITS.metrics || this.pKeys.length - this.pHead >= LIMITS.params || this.tKeys.length - this.tHead >= LIMITS.tags;
  }

  /** The next batch (params and tags first), null if everything taken was dropped, undefined when empty. */
  take(): Batch | null | undefined {
    let batch: Batch | null | undefined;
    if (this.pKeys.length > this.pHead || this.tKeys.length > this.tHead) batch = this.takeParamsTags();
    else if (this.mKeys.length > this.mHead) batch = this.takeMetrics();
    this.compact();
    return batch;
  }

  /** Drops consumed entries: all at once when a queue is empty, else in large slices. */
  private compact(): void {
    if (this.mHead === this.mKeys.length || this.mHead >= 65536) {
      this.mBase += this.mHead;
      if (this.mHead === this.mKeys.length) (this.mKeys = []), (this.mVals = []), (this.mSteps = []), (this.mTs = []);
      else for (const a of [this.mKeys, this.mVals, this.mSteps, this.mTs] as unknown[][]) a.splice(0, this.mHead);
      this.mHead = 0;
    }
    if (this.pHead === this.pKeys.length) {
      this.pBase += this.pHead;
      this.pKeys = [];
      this.pVals = [];
      this.pHead = 0;
    }
    if (this.tHead === this.tKeys.length) {
      this.tBase += this.tHead;
      this.tKeys = [];
      this.tVals = [];
      this.tHead = 0;
    }
  }

  /** Checks a key once (cached); an invalid one is dropped every time, reported as a repeat after the first. */
  private keyOk(kind: 'metric' | 'param' | 'tag', key: string): boolean {
    const id = kind[0] + key;
    if (this.goodKeys.has(id)) return true;
    const problem = typeof key === 'string' ? keyProblem(kind, key) : `Invalid ${kind} name: not a string`;
    if (problem === null) {
      this.goodKeys.add(id);
      return true;
    }
    this.invalid(clientInvalid(problem), this.badKeys.has(id));
    this.badKeys.add(id);
    return false;
  }

  private drop(kind: number, message?: string): void {
    this.dropped[kind]++;
    if (message !== undefined) this.invalid(clientInvalid(message), false);
  }

  /** A param's or tag's JSON, or null when the server would refuse it (bad key, value too long): dropped. */
  private entryFragment(kind: typeof P | typeof T, key: string, value: string): string | null {
    const [name, limit] = kind === P ? (['param', LIMITS.paramValue] as const) : (['tag', LIMITS.tagValue] as const);
    if (!this.keyOk(name, key)) {
      this.drop(kind);
      return null;
    }
    if (value.length > limit) {
      const label = kind === P ? 'Param' : 'Tag';
      this.drop(kind, `${label} value '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`);
      return null;
    }
    return `{"key":"${key}","value":${JSON.stringify(value)}}`;
  }

  private takeMetrics(): Batch | null {
    const parts: string[] = [];
    let bytes = this.prefix.length + '"metrics":[]}'.length;
    let i = this.mHead;
    const end = this.mKeys.length;
    for (; i < end && parts.length < LIMITS.metrics; i++) {
      const key = this.mKeys[i];
      const v = this.mVals[i];
      const step = this.mSteps[i];
      const ts = this.mTs[i];
      if (!this.keyOk('metric', key)) {
        this.drop(M);
        continue;
      }
      if (typeof v !== 'number') {
        this.drop(M, `Got invalid value ${String(v).slice(0, 50)} for metric '${key}': a metric value must be a number`);
        continue;
      }
      if (!Number.isSafeInteger(step) || !Number.isSafeInteger(ts) || ts < 0) {
        this.drop(M, `Got invalid step ${step} or timestamp ${ts} for metric '${key}': both must be integers, the timestamp non-negative`);
        continue;
      }
      // Valid keys are plain ASCII without quotes or backslashes: no escaping, one byte a character.
      const frag = `{"key":"${key}","value":${jsonDouble(v)},"timestamp":${ts},"step":${step}}`;
      const add = frag.length + (parts.length > 0 ? 1 : 0);
      if (bytes + add > LIMITS.bytes) break;
      bytes += add;
      parts.push(frag);
    }
    this.mHead = i;
    if (parts.length === 0) return null;
    return { key: uuid(), body: `${this.prefix}"metrics":[${parts.join(',')}]}`, m: parts.length, p: 0, t: 0, finished: false };
  }

  private takeParamsTags(): Batch | null {
    const params: string[] = [];
    const tags: string[] = [];
    const seen = new Map<string, string>();
    let bytes = this.prefix.length + '"params":[],"tags":[]}'.length;
    let full = false;
    while (this.pHead < this.pKeys.length && params.length < LIMITS.params) {
      const key = this.pKeys[this.pHead];
      const value = this.pVals[this.pHead];
      const before = seen.get(key);
      if (before !== undefined) {
        if (before !== value) break; // a conflicting value waits for the next batch: the server decides
        this.pHead++;
        this.drop(P); // the same key and value twice: once is enough (MLflow refuses repeats in a batch)
        continue;
      }
      const frag = this.entryFragment(P, key, value);
      if (frag === null) {
        this.pHead++;
        continue;
      }
      const add = utf8Length(frag) + (params.length > 0 ? 1 : 0);
      if (bytes + add > LIMITS.bytes) {
        full = true;
        break;
      }
      bytes += add;
      params.push(frag);
      seen.set(key, value);
      this.pHead++;
    }
    while (!full && this.tHead < this.tKeys.length && tags.length < LIMITS.tags && params.length + tags.length < LIMITS.entities) {
      const key = this.tKeys[this.tHead];
      const value = this.tVals[this.tHead];
      const frag = this.entryFragment(T, key, value);
      if (frag === null) {
        this.tHead++;
        continue;
      }
      const add = utf8Length(frag) + (tags.length > 0 ? 1 : 0);
      if (bytes + add > LIMITS.bytes) break;
      bytes += add;
      tags.push(frag);
      this.tHead++;
    }
    if (params.length + tags.length === 0) return null;
    const body = `${this.prefix}"params":[${params.join(',')}],"tags":[${tags.join(',')}]}`;
    return { key: uuid(), body, m: 0, p: params.length, t: tags.length, finished: false };
  }
}
