// The merge methods, applied to one chunk of one tensor at a time (the same elements of every
// model). Sums run in float64, in the models' order, and are rounded to float32 once: so the
// average of identical models is the model bit for bit, weights [1, 0] give the first model,
// and λ = 0 gives the base.

/** A Fisher diagonal value that is negative or NaN (a Fisher is a mean of squares). */
export class BadFisherValue extends Error {
  constructor(readonly model: number, readonly index: number, readonly value: number) {
    super(`Fisher value ${value} of model ${model} at element ${index}`);
  }
}

/** Σ wᵢ xᵢ (the paper's fuse_models with coefficients w; interpolation is w = [1 − α, α]). */
export function weightedSum(xs: Float32Array[], w: number[]): Float32Array {
  const n = xs[0]!.length;
  const acc = new Float64Array(n);
  xs.forEach((x, i) => {
    const wi = w[i]!;
    for (let j = 0; j < n; j++) acc[j] += wi * x[j]!;
  });
  return Float32Array.from(acc);
}

/**
 * Fisher-weighted average (Matena & Raffel): Σ wᵢ F̃ᵢ xᵢ / Σ wᵢ F̃ᵢ per element, F̃ = max(F, ε).
 * The floor ε > 0 keeps elements no Fisher covers (all zero) at the weighted average instead of
 * 0/0. Throws BadFisherValue when a Fisher value is negative or not a number.
 */
export function fisherWeighted(xs: Float32Array[], fs: Float32Array[], w: number[], floor: number): Float32Array {
  const n = xs[0]!.length;
  const num = new Float64Array(n);
  const den = new Float64Array(n);
  xs.forEach((x, i) => {
    const f = fs[i]!;
    const wi = w[i]!;
    for (let j = 0; j < n; j++) {
      const fj = f[j]!;
      if (!(fj >= 0)) throw new BadFisherValue(i, j, fj);
      const c = Math.max(fj, floor) * wi;
      num[j] += c * x[j]!;
      den[j] += c;
    }
  });
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = num[j]! / den[j]!;
  return out;
}

/** Task arithmetic (Ilharco et al.): base + λ Σ wᵢ (xᵢ − base). */
export function taskArithmetic(xs: Float32Array[], base: Float32Array, w: number[], scaling: number): Float32Array {
  const n = base.length;
  const acc = new Float64Array(n);
  xs.forEach((x, i) => {
    const wi = w[i]!;
    for (let j = 0; j < n; j++) acc[j] += wi * (x[j]! - base[j]!);
  });
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = base[j]! + scaling * acc[j]!;
  return out;
}
