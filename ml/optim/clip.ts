// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13, norm_type 2),
// split in two so that the scaling can be fused into the optimizer step (AdamW.step's gradScale).
import * as tf from '@tensorflow/tfjs-core';
import { backendIsCpu, wasmHeapView } from './adamw.js';

/** L2 norm of all gradients together. On CPU backends summed in JS in float64; otherwise with tfjs ops. */
export function globalGradNorm(grads: Map<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  if (backendIsCpu()) {
    let total = 0;
    for (const g of grads.values()) {
      const d = wasmHeapView(g) ?? g.dataSync(); // no copy out of the wasm heap
      let s = 0;
      for (let i = 0; i < d.length; i++) s += d[i] * d[i];
      total += s;
    }
    return Math.sqrt(total);
  }
  const t = normOnBackend(grads);
  const n = t.dataSync()[0];
  t.dispose();
  return n;
}

function normOnBackend(grads: Map<string, tf.Tensor>): tf.Tensor {
  return tf.tidy(() => tf.norm(tf.stack([...grads.values()].map((g) => tf.norm(tf.reshape(g, [-1]), 2))), 2));
}

/** globalGradNorm with an asynchronous read on GPU backends (webgpu has no synchronous one in Node). */
export async function readGlobalGradNorm(grads: Map<string, tf.Tensor>): Promise<number> {
  if (grads.size === 0 || backendIsCpu()) return globalGradNorm(grads);
  const t = normOnBackend(grads);
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
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
