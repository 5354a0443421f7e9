// AdamW as torch.optim.AdamW (PyTorch 1.13, single-tensor path): decoupled weight decay applied
// to the parameter before the Adam update, bias correction, eps added after the bias-corrected
// square root. HF's Trainer (optim "adamw_torch") uses exactly this, with two parameter groups.
//
// Implementations of the same update: on the CPU backends (wasm, cpu) one fused loop in plain JS
// over Float32Arrays, in place — tfjs would run ~10 separate kernels, each allocating a
// parameter-sized temporary (440 MB apiece for BERT-base); on wasm with fisherflow's native addon
// the same loop's exact arithmetic in C (native/blas: adamw), vectorised and threaded, in place on
// the wasm heap — the same bits, ~20× faster; on GPU backends tfjs ops, so the parameters never
// leave the device. All are checked against torch (test/train/optim.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import { isRowSparse, denseValues, type Gradient, type RowSparseGradient } from './gradient.js';
import { nativeOptimizerKernels } from '../bert/native-blas.js';

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Parameters that get no weight decay; default: HF Trainer's grouping (biases, LayerNorm). */
  noDecay?: (name: string) => boolean;
  /**
   * 'native': the addon's kernel, in place on the wasm heap (wasm with the addon built; elsewhere it
   * runs as 'js'); 'js': the same arithmetic as a JS loop (CPU backends); 'tensor': tfjs ops (GPU
   * backends); 'auto' picks by the active backend and the addon.
   */
  impl?: 'auto' | 'native' | 'js' | 'tensor';
}

/**
 * HF Trainer's `get_decay_parameter_names` excludes every parameter of a LayerNorm module and
 * every parameter whose name contains "bias". In BERT the LayerNorm modules are named
 * `LayerNorm` (HF keeps TF's capitalisation), so the name test is enough.
 */
export function isNoDecayParam(name: string): boolean {
  return name.includes('bias') || /(^|\.)LayerNorm\./.test(name) || /(^|\.)layer_?norm\./i.test(name);
}

/** True when tensors live in main memory, so JS loops over dataSync() are cheap. */
export function backendIsCpu(): boolean {
  const b = tf.getBackend();
  return b === 'cpu' || b === 'wasm';
}

type Moment = Float32Array | tf.Variable;

/**
 * A float32 view of a tensor's memory inside the wasm backend's heap, or null elsewhere. Lets the
 * update run in place instead of copying each parameter out (dataSync) and back (a new tensor):
 * for BERT-base that is 2 × 440 MB of copies per step. The view is only valid until the next
 * tfjs allocation (a heap growth detaches the buffer), so it is made right before the loop.
 * Uses backend internals (dataIdMap, memoryOffset) checked at run time: any mismatch → null.
 */
export function wasmHeapView(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return null;
  const be = tf.backend() as unknown as { dataIdMap?: { get(id: object): { memoryOffset?: number; dtype?: string } | undefined }; wasm?: { HEAPU8?: Uint8Array } };
  const info = be.dataIdMap?.get(t.dataId);
  const heap = be.wasm?.HEAPU8;
  if (!info || info.dtype !== 'float32' || typeof info.memoryOffset !== 'number' || !heap) return null;
  if (info.memoryOffset % 4 !== 0 || info.memoryOffset + 4 * t.size > heap.byteLength) return null;
  return new Float32Array(heap.buffer, info.memoryOffset, t.size);
}

/** A variable of zeros; the temporary is disposed (tf.variable takes its own reference). */
function zerosVariable(like: tf.Tensor): tf.Variable {
  const z = tf.zerosLike(like);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

interface AdamWConstants { b1: number; b2: number; decay: number; eps: number; stepSize: number; bc2Sqrt: number; scale: number }

/**
 * The update of elements from … to − 1 of x into out (and m, v in place), their gradient at
 * g[gOffset …] or zero when g is null. Each intermediate is rounded to float32 where torch stores
 * a float32 tensor; native/blas.c's adamw repeats this arithmetic exactly.
 */
function adamwLoop(x: Float32Array, out: Float32Array, m: Float32Array, v: Float32Array, k: AdamWConstants) {
  const { b1, b2, decay, eps, stepSize, bc2Sqrt, scale } = k;
  const c1 = 1 - b1, c2 = 1 - b2;
  const f = Math.fround;
  return (g: Float32Array | null, gOffset: number, from: number, to: number): void => {
    for (let i = from, j = gOffset; i < to; i++, j++) {
      const gi = g === null ? 0 : scale === 1 ? g[j] : f(g[j] * scale);
      m[i] = b1 * m[i] + c1 * gi;
      v[i] = b2 * v[i] + c2 * gi * gi;
      const mi = m[i], vi = v[i]; // read back: the stored (float32) values
      const xi = decay !== 1 ? f(x[i] * decay) : x[i];
      out[i] = xi - stepSize * (mi / f(f(Math.sqrt(vi) / bc2Sqrt) + eps));
    }
  };
}

/** Walks a row-sparse gradient's parameter in element stretches: its rows (with their values) and the zero rows between. */
function forEachRowStretch(g: RowSparseGradient, visit: (values: Float32Array | null, valuesOffset: number, from: number, to: number) => void): void {
  const [R, w] = g.shape;
  let r = 0;
  for (let k = 0; k <= g.rows.length; k++) {
    const next = k < g.rows.length ? g.rows[k] : R;
    if (next > r) visit(null, 0, r * w, next * w);
    if (k < g.rows.length) visit(g.values, k * w, next * w, (next + 1) * w);
    r = next + 1;
  }
}

export class AdamW {
  /** Number of updates applied so far (torch's `state['step']`, the same for every parameter). */
  stepCount = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly impl: 'native' | 'js' | 'tensor';
  private readonly noDecay: (name: string) => boolean;
  private readonly expAvg = new Map<string, Moment>();
  private readonly expAvgSq = new Map<string, Moment>();

  constructor(private readonly params: Map<string, tf.Variable>, opts: AdamWOptions = {}) {
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.noDecay = opts.noDecay ?? isNoDecayParam;
    const auto = tf.getBackend() === 'wasm' && nativeOptimizerKernels() ? 'native' : backendIsCpu() ? 'js' : 'tensor';
    this.impl = !opts.impl || opts.impl === 'auto' ? auto : opts.impl;
    for (const [name, p] of params) {
      const n = p.size;
      this.expAvg.set(name, this.impl !== 'tensor' ? new Float32Array(n) : zerosVariable(p));
      this.expAvgSq.set(name, this.impl !== 'tensor' ? new Float32Array(n) : zerosVariable(p));
    }
  }

  /**
   * One update with learning rate `lr`. `gradScale` multiplies every gradient first (the clipping
   * coefficient, as clip_grad_norm_ would have scaled the .grad tensors). Parameters without a
   * gradient are left alone (torch skips `grad is None`); a row-sparse gradient is zero outside its
   * rows, and those rows are updated all the same (decay, moments), exactly as with the dense zeros.
   * The gradients are not disposed.
   */
  step(grads: Map<string, Gradient>, lr: number, gradScale = 1): void {
    this.stepCount += 1;
    const t = this.stepCount;
    // Scalars in double, as torch computes them in Python before casting to the tensor dtype.
    const bc1 = 1 - this.beta1 ** t;
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    const stepSize = lr / bc1;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) continue;
      const wd = this.noDecay(name) ? 0 : this.weightDecay;
      if (this.impl !== 'tensor') this.stepJs(p, g, this.expAvg.get(name) as Float32Array, this.expAvgSq.get(name) as Float32Array, lr, wd, stepSize, bc2Sqrt, gradScale);
      else if (isRowSparse(g)) {
        const dense = tf.tensor(denseValues(g), g.shape, 'float32');
        this.stepTensor(p, dense, this.expAvg.get(name) as tf.Variable, this.expAvgSq.get(name) as tf.Variable, lr, wd, stepSize, bc2Sqrt, gradScale);
        dense.dispose();
      } else this.stepTensor(p, g, this.expAvg.get(name) as tf.Variable, this.expAvgSq.get(name) as tf.Variable, lr, wd, stepSize, bc2Sqrt, gradScale);
    }
  }

  private stepJs(p: tf.Variable, gT: Gradient, m: Float32Array, v: Float32Array, lr: number, wd: number, stepSize: number, bc2Sqrt: number, scale: number): void {
    const sparse = isRowSparse(gT) ? gT : null;
    // dataSync first: it may allocate in the wasm heap, which would detach earlier views.
    const gCopy = sparse ? sparse.values : wasmHeapView(gT as tf.Tensor) ? null : ((gT as tf.Tensor).dataSync() as Float32Array);
    const inPlace = wasmHeapView(p);
    const g = gCopy ?? wasmHeapView(gT as tf.Tensor)!;
    const native = this.impl === 'native' && inPlace ? nativeOptimizerKernels() : null;
    if (native && inPlace) {
      native.adamw(inPlace, g, m, v, sparse?.rows ?? null, sparse ? sparse.shape[1] : 1,
        Float64Array.of(1 - lr * wd, this.beta1, this.beta2, this.eps, stepSize, bc2Sqrt, scale));
      return;
    }
    const x = inPlace ?? (p.dataSync() as Float32Array);
    // Out of place on other backends: the cpu backend's dataSync returns its own storage.
    const out = inPlace ?? new Float32Array(x.length);
    const update = adamwLoop(x, out, m, v, { b1: this.beta1, b2: this.beta2, decay: wd !== 0 ? 1 - lr * wd : 1, eps: this.eps, stepSize, bc2Sqrt, scale });
    if (!sparse) update(g, 0, 0, x.length);
    else forEachRowStretch(sparse, (values, valuesOffset, from, to) => update(values, valuesOffset, from, to));
    if (!inPlace) tf.tidy(() => p.assign(tf.tensor(out, p.shape, 'float32')));
  }

  private stepTensor(p: tf.Variable, g0: tf.Tensor, mV: tf.Variable, vV: tf.Variable, lr: number, wd: number, stepSize: number, bc2Sqrt: number, scale: number): void {
    tf.tidy(() => {
      // Functional ops: tfjs-core's chained methods need a side-effect import we do not rely on.
      const g = scale === 1 ? g0 : tf.mul(g0, scale);
      const m = tf.add(tf.mul(mV, this.beta1), tf.mul(g, 1 - this.beta1));
      const v = tf.add(tf.mul(vV, this.beta2), tf.mul(tf.mul(g, g), 1 - this.beta2));
      const decayed = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
      const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.eps);
      mV.assign(m);
      vV.assign(v);
      p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
    });
  }

  /** Moments keyed `NAME.exp_avg` / `NAME.exp_avg_sq`, as float32 data (copies for the tensor path, read asynchronously). */
  async stateArrays(): Promise<Array<{ name: string; shape: number[]; data: Float32Array }>> {
    const out: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
    for (const [name, p] of this.params) {
      for (const [suffix, src] of [['exp_avg', this.expAvg], ['exp_avg_sq', this.expAvgSq]] as const) {
        const mo = src.get(name)!;
        out.push({ name: `${name}.${suffix}`, shape: p.shape, data: mo instanceof Float32Array ? mo : (await mo.data() as Float32Array) });
      }
    }
    return out;
  }

  /** Restore from `stateArrays()`-shaped data (e.g. read back from a checkpoint). */
  loadState(stepCount: number, tensors: Map<string, { data: Float32Array; shape: number[] }>): void {
    for (const [name, p] of this.params) {
      for (const [suffix, src] of [['exp_avg', this.expAvg], ['exp_avg_sq', this.expAvgSq]] as const) {
        const key = `${name}.${suffix}`;
        const t = tensors.get(key);
        if (!t) throw new Error(`optimizer state lacks ${key}`);
        if (t.shape.join(',') !== p.shape.join(',')) {
          throw new Error(`optimizer state ${key} has shape [${t.shape}], parameter has [${p.shape}]`);
        }
        const mo = src.get(name)!;
        if (mo instanceof Float32Array) mo.set(t.data);
        else tf.tidy(() => mo.assign(tf.tensor(t.data, p.shape, 'float32')));
      }
    }
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const src of [this.expAvg, this.expAvgSq]) {
      for (const mo of src.values()) if (!(mo instanceof Float32Array)) mo.dispose();
      src.clear();
    }
  }
}
