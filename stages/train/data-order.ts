// Seeded data order and per-step seeds. Each epoch's order depends only on (seed, epoch) and each
// step's dropout seed only on (seed, step), so a run resumed from an epoch checkpoint continues
// exactly as the uninterrupted run would (no generator state to save).
import { mulberry32 } from '../../ml/rng/mulberry32.js';

/** splitmix32-style integer hash of a pair, a well-mixed 32-bit value. */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}


/** Order of the `n` training rows in epoch `epoch` (0-based): a Fisher–Yates shuffle. */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const rand = mulberry32(mixSeed(seed, 0x5eed0000 + epoch));
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Seed for dropout masks at global optimizer step `step` (0-based). */
export function stepSeed(seed: number, step: number): number {
  // Keep it a positive int31: tfjs seeds pass through float64 and some backends truncate.
  return mixSeed(seed, step) & 0x7fffffff;
}

/**
 * `group_by_length` (HF's LengthGroupedSampler, without its longest-batch-first move): the epoch's
 * shuffled order cut into mega-batches of 50 batches, each sorted by length, longest first, so a
 * batch holds rows of similar length and dynamic padding wastes little.
 */
export function lengthGroupedOrder(order: Uint32Array, lengths: ArrayLike<number>, batchSize: number): Uint32Array {
  const out = new Uint32Array(order.length);
  const mega = 50 * batchSize;
  for (let start = 0; start < order.length; start += mega) {
    const chunk = Array.from(order.subarray(start, Math.min(order.length, start + mega)));
    chunk.sort((a, b) => lengths[b] - lengths[a] || a - b);
    out.set(chunk, start);
  }
  return out;
}
