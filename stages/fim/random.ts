// Seeded uniform numbers per example, so that sampled labels (fisher: true) do not depend on the
// batch size, the example order or how examples are split over workers.
import { mulberry32 } from '../../ml/rng/mulberry32.js';

/** splitmix32-style hash of (seed, index) → a mulberry32 generator of uniforms in [0, 1). */
export function exampleRandom(seed: number, index: number): () => number {
  let s = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  s = Math.imul(s ^ (s >>> 16), 0x7feb352d) >>> 0;
  s = Math.imul(s ^ (s >>> 15), 0x846ca68b) >>> 0;
  return mulberry32(s);
}
