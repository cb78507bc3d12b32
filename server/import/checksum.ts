import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { DatasetInput, KeyValue, Series } from '../store/types.js';

/** A count and a SHA-256 over a canonical text of the items: equal on both sides means the same data. */
export interface Digest {
  count: number;
  sha256: string;
}

const sha = (lines: string[]) => createHash('sha256').update(lines.join('\n')).digest('hex');

export function digestKeyValues(list: KeyValue[]): Digest {
  const lines = list.map((kv) => `${JSON.stringify(kv.key)}=${JSON.stringify(kv.value)}`).sort();
  return { count: lines.length, sha256: sha(lines) };
}

const valueText = (v: number) => (Number.isNaN(v) ? 'NaN' : String(v));
// NaN first among equal (step, timestamp): a total order both sides agree on, whatever order they stored.
const cmpValue = (a: number, b: number) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : Number.isNaN(b) ? 1 : a - b);

/** The points of one series, order-independent: sorted by (step, timestamp, value) before hashing. */
export function digestSeries(p: Series): Digest {
  const idx = Array.from({ length: p.values.length }, (_, i) => i);
  idx.sort((a, b) => p.steps[a] - p.steps[b] || p.timestamps[a] - p.timestamps[b] || cmpValue(p.values[a], p.values[b]));
  const h = createHash('sha256');
  for (const i of idx) h.update(`${p.steps[i]},${p.timestamps[i]},${valueText(p.values[i])}\n`);
  return { count: idx.length, sha256: h.digest('hex') };
}

export function digestInputs(list: DatasetInput[]): Digest {
  const lines = list
    .map((di) => {
      const d = di.dataset;
      return JSON.stringify([d.name, d.digest, d.sourceType, d.source, d.schema ?? '', d.profile ?? '', digestKeyValues(di.tags).sha256]);
    })
    .sort();
  return { count: lines.length, sha256: sha(lines) };
}

/** Size and SHA-256 of a byte stream. */
export async function digestStream(body: Readable): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    h.update(chunk as Buffer);
  }
  return { size, sha256: h.digest('hex') };
}

export const sameDigest = (a: Digest, b: Digest) => a.count === b.count && a.sha256 === b.sha256;
