// numpy's `default_rng(seed).permutation(n)`: SeedSequence → PCG64 (XSL-RR 128/64) → the
// Fisher–Yates of Generator.shuffle with `random_interval` (masked rejection on buffered 32-bit
// draws). Hugging Face `Dataset.shuffle(seed)` and `train_test_split(seed)` order rows this way.

const M32 = 0xffffffff;
const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
const PCG_MULT = (0x2360ed051fc65da4n << 64n) | 0x4385df649fccf645n;

/** numpy.random.SeedSequence(entropy).generate_state(nWords, uint32), no spawn key. */
export function seedSequenceState(entropy: number | bigint, nWords: number): Uint32Array {
  const INIT_A = 0x43b0d7e5;
  const MULT_A = 0x931e8875;
  const INIT_B = 0x8b51f9dd;
  const MULT_B = 0x58f38ded;
  const MIX_MULT_L = 0xca01f9dd;
  const MIX_MULT_R = 0x4973f715;
  const POOL = 4;

  let v = BigInt(entropy);
  if (v < 0n) throw new RangeError('SeedSequence expects a non-negative integer seed');
  const words: number[] = [];
  while (v > 0n) { words.push(Number(v & 0xffffffffn)); v >>= 32n; }
  if (words.length === 0) words.push(0);

  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    let r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    r = (r ^ (r >>> 16)) >>> 0;
    return r;
  };
  const pool = new Array<number>(POOL);
  for (let i = 0; i < POOL; i++) pool[i] = hashmix(i < words.length ? words[i]! : 0);
  for (let s = 0; s < POOL; s++) {
    for (let d = 0; d < POOL; d++) {
      if (s !== d) pool[d] = mix(pool[d]!, hashmix(pool[s]!));
    }
  }
  for (let s = POOL; s < words.length; s++) {
    for (let d = 0; d < POOL; d++) pool[d] = mix(pool[d]!, hashmix(words[s]!));
  }

  const out = new Uint32Array(nWords);
  let hc = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let dv = (pool[i % POOL]! ^ hc) >>> 0;
    hc = Math.imul(hc, MULT_B) >>> 0;
    dv = Math.imul(dv, hc) >>> 0;
    out[i] = (dv ^ (dv >>> 16)) >>> 0;
  }
  return out;
}

/** numpy's PCG64 bit generator (state and stream from a SeedSequence), with its 32-bit buffer. */
export class PCG64 {
  private state = 0n;
  private inc = 0n;
  private hasUint32 = false;
  private uinteger = 0;

  constructor(seed: number | bigint) {
    const w = seedSequenceState(seed, 8);
    // generate_state(4, uint64) is the uint32 stream viewed little-endian.
    const u64 = (i: number): bigint => (BigInt(w[2 * i + 1]!) << 32n) | BigInt(w[2 * i]!);
    const initstate = (u64(0) << 64n) | u64(1);
    const initseq = (u64(2) << 64n) | u64(3);
    this.inc = ((initseq << 1n) | 1n) & MASK128;
    this.step();
    this.state = (this.state + initstate) & MASK128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & MASK128;
  }

  nextUint64(): bigint {
    this.step();
    const s = this.state;
    const hi = s >> 64n;
    const xored = (hi ^ s) & MASK64;
    const rot = Number(hi >> 58n);
    return ((xored >> BigInt(rot)) | (xored << BigInt((64 - rot) & 63))) & MASK64;
  }

  /** Low half first, the high half kept for the next call (numpy's pcg64_next32). */
  nextUint32(): number {
    if (this.hasUint32) {
      this.hasUint32 = false;
      return this.uinteger;
    }
    const next = this.nextUint64();
    this.hasUint32 = true;
    this.uinteger = Number(next >> 32n);
    return Number(next & 0xffffffffn);
  }

  /** numpy's random_interval(max): uniform in [0, max] by masked rejection. */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > M32) throw new RangeError('interval above 2^32 is not needed here');
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > max);
    return value;
  }
}

/** `np.random.default_rng(seed).permutation(n)` as plain numbers. */
export function numpyPermutation(seed: number | bigint, n: number): number[] {
  const rng = new PCG64(seed);
  const arr = new Array<number>(n);
  for (let i = 0; i < n; i++) arr[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = rng.interval(i);
    const t = arr[i]!;
    arr[i] = arr[j]!;
    arr[j] = t;
  }
  return arr;
}
