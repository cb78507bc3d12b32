import type { Rng } from './types.js';

/** 32-bit FNV-1a of a string: turns (sweep seed, trial number) into an independent stream seed. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * sfc32 (Chris Doty-Humphrey's small fast counter), seeded through splitmix32: well distributed in
 * all bits, unlike Math.random it is reproducible, and it costs a few integer ops per draw.
 */
export function createRng(...seedParts: Array<number | string>): Rng {
  let s = fnv1a(seedParts.join('\u0000'));
  const split = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) u32();
  // 53 random bits, so doubles near 0 are as fine-grained as the format allows.
  const next = () => (u32() * 2 ** 21 + (u32() >>> 11)) / 2 ** 53;
  let spare: number | null = null;
  const gauss = () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = next();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * next();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
  return {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    normal: (mu, sigma) => mu + sigma * gauss(),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    weighted(weights) {
      let total = 0;
      for (let i = 0; i < weights.length; i++) total += weights[i]!;
      let x = next() * total;
      let last = 0;
      for (let i = 0; i < weights.length; i++) {
        if (weights[i]! <= 0) continue;
        last = i;
        x -= weights[i]!;
        if (x < 0) return i;
      }
      // Rounding can leave x a hair above zero: the answer is the last index that could be drawn.
      return last;
    },
  };
}
