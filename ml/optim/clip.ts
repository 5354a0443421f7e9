// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13, norm_type 2),
// split in two so that the scaling can be fused into the optimizer step (AdamW.step's gradScale).
import * as tf from '@tensorflow/tfjs-core';
import { backendIsCpu, wasmHeapView } from './adamw.js';
import { isRowSparse, type Gradient } from './gradient.js';
import { nativeOptimizerKernels } from '../bert/native-blas.js';

/** Elements per block of sumOfSquares (as SQ_BLOCK in native/blas/blas.c). */
const SQ_BLOCK = 65536;

/**
 * Σ x² in float64, in a fixed order that the native kernel (native/blas: sumSquares) repeats
 * exactly: per block of 65,536 elements, element i into lane i mod 8, the 8 lanes summed pairwise;
 * the blocks' sums added in order. So the result is the same bits with or without the addon, and
 * for any thread count (threads take whole blocks).
 */
export function sumOfSquaresJs(x: Float32Array): number {
  let total = 0;
  for (let start = 0; start < x.length; start += SQ_BLOCK) {
    const end = Math.min(x.length, start + SQ_BLOCK);
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    let i = start;
    for (; i + 8 <= end; i += 8) {
      a0 += x[i] * x[i]; a1 += x[i + 1] * x[i + 1]; a2 += x[i + 2] * x[i + 2]; a3 += x[i + 3] * x[i + 3];
      a4 += x[i + 4] * x[i + 4]; a5 += x[i + 5] * x[i + 5]; a6 += x[i + 6] * x[i + 6]; a7 += x[i + 7] * x[i + 7];
    }
    // The tail: lanes 0 … (end − i − 1), as the native loop's `a[i & 7]` (blocks start at multiples of 8).
    const tail = [a0, a1, a2, a3, a4, a5, a6, a7];
    for (let l = 0; i < end; i++, l++) tail[l] += x[i] * x[i];
    total += ((tail[0] + tail[1]) + (tail[2] + tail[3])) + ((tail[4] + tail[5]) + (tail[6] + tail[7]));
  }
  return total;
}

/** Σ x² (sumOfSquaresJs), natively when the addon is there. */
export function sumOfSquares(x: Float32Array): number {
  return nativeOptimizerKernels()?.sumSquares(x) ?? sumOfSquaresJs(x);
}

/**
 * L2 norm of all gradients together. On CPU backends in float64 (sumOfSquares per gradient, added
 * in order), reading gradients in place in the wasm heap; otherwise with tfjs ops.
 */
export function globalGradNorm(grads: Map<string, Gradient>): number {
  if (grads.size === 0) return 0;
  let total = 0;
  const onDevice: tf.Tensor[] = [];
  for (const g of grads.values()) {
    if (isRowSparse(g)) total += sumOfSquares(g.values);
    else if (backendIsCpu()) total += sumOfSquares(wasmHeapView(g) ?? (g.dataSync() as Float32Array)); // no copy out of the wasm heap
    else onDevice.push(g);
  }
  if (onDevice.length) {
    const t = normOnBackend(onDevice);
    const n = t.dataSync()[0];
    t.dispose();
    if (onDevice.length === grads.size) return n; // all on the device: the device's norm as it is
    total += n * n;
  }
  return Math.sqrt(total);
}

function normOnBackend(grads: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => tf.norm(tf.stack(grads.map((g) => tf.norm(tf.reshape(g, [-1]), 2))), 2));
}

/** globalGradNorm with an asynchronous read on GPU backends (webgpu has no synchronous one in Node). */
export async function readGlobalGradNorm(grads: Map<string, Gradient>): Promise<number> {
  if (grads.size === 0 || backendIsCpu()) return globalGradNorm(grads);
  let total = 0;
  const onDevice: tf.Tensor[] = [];
  for (const g of grads.values()) {
    if (isRowSparse(g)) total += sumOfSquares(g.values);
    else onDevice.push(g);
  }
  if (onDevice.length) {
    const t = normOnBackend(onDevice);
    try {
      const n = (await t.data())[0];
      if (onDevice.length === grads.size) return n;
      total += n * n;
    } finally {
      t.dispose();
    }
  }
  return Math.sqrt(total);
}

/** torch's factor: min(1, max_norm / (total_norm + 1e-6)); 1 when clipping is off (max_norm 0 or ∞). */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) return 1;
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}

/** Convenience for callers without a fused optimizer: scaled copies (inputs disposed when replaced). */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { totalNorm: number; grads: Map<string, tf.Tensor> } {
  const totalNorm = globalGradNorm(grads);
  const coef = clipCoefficient(totalNorm, maxNorm);
  if (coef >= 1) return { totalNorm, grads };
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(name, tf.tidy(() => tf.mul(g, coef)));
    g.dispose();
  }
  return { totalNorm, grads: out };
}
