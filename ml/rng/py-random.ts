// CPython's `random.Random` (3.11 algorithms, unchanged in their random-consumption since 3.2)
// on top of MT19937, so that ported research code draws the identical sequence.
import { MT19937 } from './mt19937.js';

const TWO_32 = 4294967296;

function bitLength(n: number): number {
  // Exact for integers up to 2^53 (Math.log2 is not: it rounds near powers of two).
  let k = 0;
  while (n >= TWO_32) { n = Math.floor(n / TWO_32); k += 32; }
  return k + (n === 0 ? 0 : 32 - Math.clz32(n));
}

function checkInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw new TypeError(`${name} must be a safe integer, got ${v}`);
}

export interface ChoicesOptions {
  weights?: readonly number[];
  cumWeights?: readonly number[];
  k?: number;
}

export class PyRandom {
  private readonly mt = new MT19937();

  /** Unlike Python, no OS-entropy seeding: the default seed is 0, so runs stay reproducible. */
  constructor(seed: number | bigint = 0) {
    this.seed(seed);
  }

  /** `random.seed(n)` for an int n: init_by_array on the 32-bit words of |n|, least significant first. */
  seed(n: number | bigint): void {
    let v = typeof n === 'bigint' ? n : BigInt(n);
    if (typeof n === 'number') checkInt('seed', n);
    if (v < 0n) v = -v;
    const key: number[] = [];
    while (v > 0n) {
      key.push(Number(v & 0xffffffffn));
      v >>= 32n;
    }
    if (key.length === 0) key.push(0);
    this.mt.initByArray(key);
  }

  /** `random.random()`: 53 bits from two outputs. */
  random(): number {
    const a = this.mt.nextUint32() >>> 5;
    const b = this.mt.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `random.getrandbits(k)` for k ≤ 53 (as a number); see getrandbitsBig for more. */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 0) throw new RangeError('number of bits must be non-negative');
    if (k > 53) throw new RangeError('getrandbits(k) as a number needs k <= 53; use getrandbitsBig');
    if (k === 0) return 0;
    if (k <= 32) return this.mt.nextUint32() >>> (32 - k);
    // Words are filled least significant first; the last one keeps its top bits.
    const lo = this.mt.nextUint32();
    const hi = this.mt.nextUint32() >>> (64 - k);
    return hi * TWO_32 + lo;
  }

  /** `random.getrandbits(k)` for any k. */
  getrandbitsBig(k: number): bigint {
    if (!Number.isInteger(k) || k < 0) throw new RangeError('number of bits must be non-negative');
    if (k <= 32) return BigInt(k === 0 ? 0 : this.mt.nextUint32() >>> (32 - k));
    let result = 0n;
    let shift = 0n;
    for (let left = k; left > 0; left -= 32, shift += 32n) {
      let r = this.mt.nextUint32();
      if (left < 32) r >>>= 32 - left;
      result |= BigInt(r) << shift;
    }
    return result;
  }

  /** `Random._randbelow(n)` (the getrandbits rejection loop), n ≥ 1. */
  randbelow(n: number): number {
    if (n <= 0) return 0;
    const k = bitLength(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** `random.randrange(stop)` or `random.randrange(start, stop, step=1)`. */
  randrange(start: number, stop?: number, step = 1): number {
    checkInt('start', start);
    if (stop === undefined) {
      if (start > 0) return this.randbelow(start);
      throw new RangeError('empty range for randrange()');
    }
    checkInt('stop', stop);
    checkInt('step', step);
    const width = stop - start;
    if (step === 1) {
      if (width > 0) return start + this.randbelow(width);
      throw new RangeError(`empty range for randrange(${start}, ${stop})`);
    }
    let n: number;
    if (step > 0) n = Math.floor((width + step - 1) / step);
    else if (step < 0) n = Math.floor((width + step + 1) / step);
    else throw new RangeError('zero step for randrange()');
    if (n <= 0) throw new RangeError('empty range for randrange()');
    return start + step * this.randbelow(n);
  }

  /** `random.randint(a, b)`: both ends included. */
  randint(a: number, b: number): number {
    return this.randrange(a, b + 1);
  }

  /** `random.choice(seq)`. */
  choice<T>(seq: ArrayLike<T>): T {
    if (seq.length === 0) throw new RangeError('Cannot choose from an empty sequence');
    return seq[this.randbelow(seq.length)]!;
  }

  /** `random.choices(population, weights=None, *, cum_weights=None, k=1)`. */
  choices<T>(population: ArrayLike<T>, opts: ChoicesOptions = {}): T[] {
    const k = opts.k ?? 1;
    const n = population.length;
    const out: T[] = new Array(Math.max(0, k));
    let cum = opts.cumWeights;
    if (cum === undefined) {
      if (opts.weights === undefined) {
        for (let i = 0; i < k; i++) out[i] = population[Math.floor(this.random() * n)]!;
        return out;
      }
      const acc: number[] = [];
      let s = 0;
      for (const w of opts.weights) { s += w; acc.push(s); }
      cum = acc;
    } else if (opts.weights !== undefined) {
      throw new TypeError('Cannot specify both weights and cumulative weights');
    }
    if (cum.length !== n) throw new RangeError('The number of weights does not match the population');
    const total = cum[n - 1]!;
    if (!(total > 0)) throw new RangeError('Total of weights must be greater than zero');
    if (!Number.isFinite(total)) throw new RangeError('Total of weights must be finite');
    const hi = n - 1;
    for (let i = 0; i < k; i++) out[i] = population[bisectRight(cum, this.random() * total, 0, hi)]!;
    return out;
  }

  /** `random.shuffle(x)` in place (Fisher–Yates from the end). */
  shuffle<T>(x: T[]): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = x[i]!;
      x[i] = x[j]!;
      x[j] = t;
    }
  }

  /** `random.sample(population, k)`: a pool for small populations, a set of picks otherwise. */
  sample<T>(population: ArrayLike<T>, k: number): T[] {
    const n = population.length;
    if (!(k >= 0 && k <= n)) throw new RangeError('Sample larger than population or is negative');
    const result: T[] = new Array(k);
    let setsize = 21;
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4));
    if (n <= setsize) {
      const pool = Array.from(population);
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result[i] = pool[j]!;
        pool[j] = pool[n - i - 1]!;
      }
    } else {
      const selected = new Set<number>();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (selected.has(j)) j = this.randbelow(n);
        selected.add(j);
        result[i] = population[j]!;
      }
    }
    return result;
  }

  /** MT state (624 words + position) as `getstate()[1]` shows it, for tests. */
  getState(): number[] {
    return this.mt.getState();
  }
}

/** `bisect.bisect_right(a, x, lo, hi)`. */
function bisectRight(a: readonly number[], x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x < a[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
