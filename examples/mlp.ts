// A small multi-layer perceptron in plain TypeScript: ReLU hidden layers, softmax output, cross-entropy
// loss, SGD with momentum and weight decay. Float64Array matrices, row-major; no ML library.

/** mulberry32: a small seeded PRNG, so a run is reproducible from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform source (Box-Muller). */
export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export class Mlp {
  readonly W: Float64Array[] = [];
  readonly b: Float64Array[] = [];
  private readonly vW: Float64Array[] = [];
  private readonly vb: Float64Array[] = [];

  constructor(readonly sizes: number[], rand: () => number) {
    for (let l = 0; l + 1 < sizes.length; l++) {
      const [nin, nout] = [sizes[l], sizes[l + 1]];
      const std = Math.sqrt(2 / nin); // He initialisation for ReLU
      this.W.push(Float64Array.from({ length: nin * nout }, () => gaussian(rand) * std));
      this.b.push(new Float64Array(nout));
      this.vW.push(new Float64Array(nin * nout));
      this.vb.push(new Float64Array(nout));
    }
  }

  get parameterCount(): number {
    return this.W.reduce((s, w, i) => s + w.length + this.b[i].length, 0);
  }

  /** Activations of every layer for `n` rows of `x`; the last one holds class probabilities. */
  forward(x: Float64Array, n: number): Float64Array[] {
    const acts = [x];
    for (let l = 0; l < this.W.length; l++) {
      const [nin, nout] = [this.sizes[l], this.sizes[l + 1]];
      const a = acts[l];
      const z = new Float64Array(n * nout);
      const W = this.W[l];
      const bias = this.b[l];
      const last = l === this.W.length - 1;
      for (let r = 0; r < n; r++) {
        const zr = r * nout;
        for (let j = 0; j < nout; j++) z[zr + j] = bias[j];
        for (let i = 0; i < nin; i++) {
          const v = a[r * nin + i];
          if (v === 0) continue;
          const wi = i * nout;
          for (let j = 0; j < nout; j++) z[zr + j] += v * W[wi + j];
        }
        if (!last) {
          for (let j = 0; j < nout; j++) if (z[zr + j] < 0) z[zr + j] = 0;
        } else {
          let max = -Infinity;
          for (let j = 0; j < nout; j++) max = Math.max(max, z[zr + j]);
          let sum = 0;
          for (let j = 0; j < nout; j++) sum += z[zr + j] = Math.exp(z[zr + j] - max);
          for (let j = 0; j < nout; j++) z[zr + j] /= sum;
        }
      }
      acts.push(z);
    }
    return acts;
  }

  /** Mean cross-entropy and accuracy of the probabilities `p` against labels `y`. */
  static score(p: Float64Array, y: Int32Array | number[], classes: number): { loss: number; acc: number } {
    let loss = 0;
    let right = 0;
    for (let r = 0; r < y.length; r++) {
      loss -= Math.log(Math.max(p[r * classes + y[r]], 1e-12));
      let best = 0;
      for (let j = 1; j < classes; j++) if (p[r * classes + j] > p[r * classes + best]) best = j;
      if (best === y[r]) right++;
    }
    return { loss: loss / y.length, acc: right / y.length };
  }

  /** One SGD-with-momentum step on a mini-batch; returns its loss and accuracy before the update. */
  step(x: Float64Array, y: Int32Array, lr: number, momentum: number, weightDecay: number): { loss: number; acc: number } {
    const n = y.length;
    const acts = this.forward(x, n);
    const L = this.W.length;
    const classes = this.sizes[L];
    const score = Mlp.score(acts[L], y, classes);
    // dLoss/dz of the softmax + cross-entropy output, averaged over the batch.
    let dz: Float64Array = Float64Array.from(acts[L]);
    for (let r = 0; r < n; r++) dz[r * classes + y[r]] -= 1;
    for (let k = 0; k < dz.length; k++) dz[k] /= n;
    for (let l = L - 1; l >= 0; l--) {
      const [nin, nout] = [this.sizes[l], this.sizes[l + 1]];
      const a = acts[l];
      const W = this.W[l];
      const gW = new Float64Array(nin * nout);
      const gb = new Float64Array(nout);
      const da = l > 0 ? new Float64Array(n * nin) : null;
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < nout; j++) gb[j] += dz[r * nout + j];
        for (let i = 0; i < nin; i++) {
          const v = a[r * nin + i];
          let back = 0;
          for (let j = 0; j < nout; j++) {
            const g = dz[r * nout + j];
            gW[i * nout + j] += v * g;
            back += g * W[i * nout + j];
          }
          // ReLU: gradient flows only where the activation was positive.
          if (da && v > 0) da[r * nin + i] = back;
        }
      }
      this.update(W, gW, this.vW[l], lr, momentum, weightDecay);
      this.update(this.b[l], gb, this.vb[l], lr, momentum, 0);
      if (da) dz = da;
    }
    return score;
  }

  private update(p: Float64Array, g: Float64Array, v: Float64Array, lr: number, momentum: number, wd: number): void {
    for (let k = 0; k < p.length; k++) {
      v[k] = momentum * v[k] - lr * (g[k] + wd * p[k]);
      p[k] += v[k];
    }
  }
}
