// mulberry32: a small, fast 32-bit generator of uniforms in [0, 1). Used where no Python stream
// has to be matched (training data order, sampled Fisher labels, bootstrap resampling); the
// Python-exact generators are in ./index.ts.
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
