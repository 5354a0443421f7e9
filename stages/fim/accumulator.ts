// Host-side Fisher sums: one float32 array per parameter, all views of one (Shared)ArrayBuffer,
// so the worker threads add into the same memory (under a per-parameter lock) instead of each
// holding and later shipping a model-sized copy. Peak memory for two threads on BERT-base is then
// two models' weights (one per wasm instance) plus one set of sums.
import { numel } from '../../ml/bert/params.js';

export interface HostAccumulatorHandle { buffer: SharedArrayBuffer | ArrayBuffer; locks: SharedArrayBuffer | ArrayBuffer; names: string[]; shapes: number[][] }

export class HostAccumulator {
  readonly views = new Map<string, Float32Array>();
  private readonly lockIndex = new Map<string, number>();
  private readonly locks: Int32Array;

  private constructor(readonly handle: HostAccumulatorHandle) {
    let off = 0;
    handle.names.forEach((name, i) => {
      const n = numel(handle.shapes[i]);
      this.views.set(name, new Float32Array(handle.buffer, off * 4, n));
      this.lockIndex.set(name, i);
      off += n;
    });
    this.locks = new Int32Array(handle.locks);
  }

  /** Zeroed sums for the given parameters (named_parameters order); shared for worker threads. */
  static create(shapes: Map<string, number[]>, shared: boolean): HostAccumulator {
    const names = [...shapes.keys()];
    const total = names.reduce((s, n) => s + numel(shapes.get(n)!), 0);
    const Buf = shared ? SharedArrayBuffer : ArrayBuffer;
    return new HostAccumulator({ buffer: new Buf(total * 4), locks: new Buf(names.length * 4), names, shapes: names.map((n) => shapes.get(n)!) });
  }

  /** The same sums seen from another thread (the handle travels in workerData). */
  static attach(handle: HostAccumulatorHandle): HostAccumulator {
    return new HostAccumulator(handle);
  }

  /** Runs fn with exclusive access to one parameter's sums (a spin-then-wait Atomics lock). */
  withLock<T>(name: string, fn: (sums: Float32Array) => T): T {
    const i = this.lockIndex.get(name);
    if (i === undefined) throw new Error(`no accumulator for ${name}`);
    while (Atomics.compareExchange(this.locks, i, 0, 1) !== 0) Atomics.wait(this.locks, i, 1, 50);
    try {
      return fn(this.views.get(name)!);
    } finally {
      Atomics.store(this.locks, i, 0);
      Atomics.notify(this.locks, i, 1);
    }
  }

  /** sums[name] += data, elementwise in float32. */
  add(name: string, data: Float32Array): void {
    this.withLock(name, (s) => {
      if (s.length !== data.length) throw new Error(`${name}: ${data.length} values for ${s.length} sums`);
      for (let i = 0; i < s.length; i++) s[i] += data[i];
    });
  }

  zero(): void {
    for (const v of this.views.values()) v.fill(0);
  }

  /** A copy of the sums divided by n (the mean over n examples). */
  meanCopy(n: number): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.views) out.set(name, v.map((x) => x / n));
    return out;
  }
}
