// Metric points as MLflow's JSON, written straight to bytes; pure, so it also runs in metric-json.worker.ts.
import { wireDouble } from './wire.js';

const EMPTY = new Uint8Array(0);
let scratch = new Uint8Array(0);
const TS_FIELD = new TextEncoder().encode(',"timestamp":');
const STEP_FIELD = new TextEncoder().encode(',"step":');

/** Points of one series, each written as `<head><value>,"timestamp":T,"step":S<tail>`. */
export interface Segment {
  head: Uint8Array;
  tail: Uint8Array;
  steps: Float64Array;
  timestamps: Float64Array;
  values: Float64Array;
}

/**
 * `lead`, then the segments' points as comma-separated JSON objects, written byte by byte into one Uint8Array:
 * only the text of each value is a string. Byte loops rather than Buffer#copy/#write, whose per-call
 * cost outweighs the dozen bytes they move here.
 */
export function pointsJson(segments: Segment[], lead: Uint8Array = EMPTY): Uint8Array {
  let max = lead.length;
  // Per point at most: head + 26 (quoted value) + 13 + 17 + 8 + 17 + 1 (comma) + tail.
  for (const g of segments) max += g.values.length * (g.head.length + g.tail.length + 90);
  // One scratch buffer, reused: the answer is a copy of just its bytes.
  if (scratch.length < max) scratch = new Uint8Array(Math.max(max, 2 * scratch.length));
  const buf = scratch;
  let off = putBytes(buf, 0, lead);
  for (const { head, tail, steps, timestamps, values } of segments) {
    for (let i = 0; i < values.length; i++) {
      if (off > lead.length) buf[off++] = 0x2c; // ,
      off = putBytes(buf, off, head);
      const v = wireDouble(values[i]);
      off = putAscii(buf, off, typeof v === 'string' ? `"${v}"` : String(v));
      off = putBytes(buf, off, TS_FIELD);
      off = writeInt(buf, off, timestamps[i]);
      off = putBytes(buf, off, STEP_FIELD);
      off = writeInt(buf, off, steps[i]);
      off = putBytes(buf, off, tail);
    }
  }
  return buf.slice(0, off);
}

function putBytes(buf: Uint8Array, at: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) buf[at + i] = src[i];
  return at + src.length;
}

/** `s` is ASCII (a number's text). */
function putAscii(buf: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
  return at + s.length;
}

/** A safe integer in decimal, without making a string: 8 digits at a time in 32-bit arithmetic. */
function writeInt(buf: Uint8Array, at: number, x: number): number {
  let off = at;
  if (x < 0) {
    buf[off++] = 0x2d; // -
    x = -x;
  }
  let digits = 1;
  for (let y = 10; y <= x; y *= 10) digits++;
  const end = off + digits;
  let p = end;
  while (x >= 1e8) {
    let low = x % 1e8;
    x = (x - low) / 1e8;
    for (let k = 0; k < 8; k++) {
      buf[--p] = 0x30 + (low % 10);
      low = (low / 10) | 0;
    }
  }
  let v = x | 0;
  do {
    buf[--p] = 0x30 + (v % 10);
    v = (v / 10) | 0;
  } while (v > 0);
  return end;
}
