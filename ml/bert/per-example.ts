// Per-example squared gradients in one batched backward pass (as BackPACK / Opacus do).
//
// Each Linear and LayerNorm layer is a tf.customGrad over its input only: the backward
// passes the input gradient on as usual and, from the saved input x [B,T,in] and the output
// gradient dy [B,T,out], adds Σ_b (dy_bᵀ x_b)² to the weight's accumulator (Σ_b (Σ_t dy_b)² for
// the bias). No batch-summed weight gradient is ever formed, so batching stays exact per example.
// Embedding gradients are scattered in JS from the gradient of the embedding sum.
import * as tf from '@tensorflow/tfjs-core';
import { linearForward, normalise, layerNormInputGrad, type LayerOps, type ParamGetter } from './model.js';
import { nativeMatmulActive, nativeSquaresUsable, nativeSquaredGradAccum } from './native-blas.js';
import { backendIsCpu } from '../optim/adamw.js';

/** Where per-layer Σ_b (per-example gradient)² goes; called inside the backward pass. */
export interface SquaredGradSink {
  /** Adds same-shaped contributions (already squared) to the parameter's sums. */
  add(name: string, contribs: tf.Tensor[]): void;
  /**
   * Optional: adds Σ_b (dy_bᵀ x_b)² for a linear layer's weight straight into host sums with the
   * native BLAS (dy [B·T, O], x [B·T, I]); false when the sink cannot (then `add` is used).
   */
  addSquaredLinear?(name: string, dy: tf.Tensor2D, x: tf.Tensor2D, B: number): boolean;
}

/** Sums kept as tensors on the backend (GPU backends: no read-back until the end). */
export class DeviceSums implements SquaredGradSink {
  readonly tensors = new Map<string, tf.Tensor>();

  add(name: string, contribs: tf.Tensor[]): void {
    const old = this.tensors.get(name);
    const all = old ? [old, ...contribs] : contribs;
    // The first contribution becomes the sum; several are added in one pass (tf.addN).
    const next = all.length === 1 ? all[0] : tf.addN(all);
    tf.keep(next);
    if (old && old !== next) old.dispose();
    this.tensors.set(name, next);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/** Sums read back per layer into host memory (wasm/cpu: read-back is a memcpy; see HostAccumulator). */
export class HostSink implements SquaredGradSink {
  constructor(private readonly target: {
    add(name: string, data: Float32Array): void;
    withLock<T>(name: string, fn: (sums: Float32Array) => T): T;
  }) {}

  add(name: string, contribs: tf.Tensor[]): void {
    const t = contribs.length === 1 ? contribs[0] : tf.addN(contribs);
    this.target.add(name, hostView(t));
  }

  addSquaredLinear(name: string, dy: tf.Tensor2D, x: tf.Tensor2D, B: number): boolean {
    if (!nativeSquaresUsable()) return false;
    this.target.withLock(name, (sums) => nativeSquaredGradAccum(dy, x, B, sums));
    return true;
  }
}

/**
 * The tensor's values as a Float32Array: on wasm a view into the wasm heap (no copy; valid until
 * the next allocation, so use it at once), elsewhere dataSync().
 */
export function hostView(t: tf.Tensor): Float32Array {
  const be = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array };
  if (tf.getBackend() === 'wasm' && typeof be.typedArrayFromHeap === 'function') return be.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}

/** sum + part, both disposed (a running sum keeps one tensor alive); part itself when sum is null. */
function addDisposing(sum: tf.Tensor | null, part: tf.Tensor): tf.Tensor {
  if (sum === null) return part;
  const next = tf.add(sum, part);
  sum.dispose();
  part.dispose();
  return next;
}

/**
 * Elements of the [b, O, I] per-example gradients formed at once on a GPU backend (256 MB): bounds
 * memory for large batches while keeping each product big enough to fill the device.
 */
const GPU_SQUARES_CHUNK = 1 << 26;

/** Σ_b (dy_bᵀ x_b)² as batched matmuls (GPU backends), for dy [B·T, O] and x [B·T, I]. */
function batchedSquaredWeightGrad(dy2: tf.Tensor2D, xs: tf.Tensor2D, B: number, T: number): tf.Tensor {
  const O = dy2.shape[1];
  const I = xs.shape[1];
  const per = Math.max(1, Math.floor(GPU_SQUARES_CHUNK / (O * I)));
  let sum: tf.Tensor | null = null;
  for (let b0 = 0; b0 < B; b0 += per) {
    const n = Math.min(per, B - b0);
    const part = tf.tidy(() => {
      const dyc = tf.reshape(tf.slice(dy2, [b0 * T, 0], [n * T, O]), [n, T, O]);
      const xc = tf.reshape(tf.slice(xs, [b0 * T, 0], [n * T, I]), [n, T, I]);
      return tf.sum(tf.square(tf.matMul(dyc, xc, true, false)), 0);
    });
    sum = addDisposing(sum, part);
  }
  return sum!;
}

/**
 * dy W. On wasm, XNNPACK packs the right-hand operand of a matmul and caches the packed copy
 * until that tensor is disposed: with the weight itself as operand, every weight would keep a
 * packed copy (+0.8× the model per thread). A short-lived copy keeps one packed weight at a time,
 * for ≈0.3 GB of extra memory traffic per batch on BERT-base.
 */
function inputGrad(dy2: tf.Tensor2D, W: tf.Tensor2D): tf.Tensor {
  if (tf.getBackend() !== 'wasm' || nativeMatmulActive()) return tf.matMul(dy2, W);
  return tf.tidy(() => {
    const Wc = tf.add(W, 0) as tf.Tensor2D; // a new buffer, not a view
    return tf.matMul(dy2, Wc);
  });
}

export function perExampleOps(P: ParamGetter, acc: SquaredGradSink): LayerOps {
  return {
    linear(x, prefix) {
      const W = P(`${prefix}.weight`) as tf.Tensor2D;
      const bias = P(`${prefix}.bias`);
      const f = tf.customGrad<tf.Tensor>(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
        const [B, T, I] = xIn.shape as [number, number, number];
        const O = W.shape[0];
        const x2 = tf.reshape(xIn, [B * T, I]) as tf.Tensor2D;
        save([x2]);
        return {
          value: tf.tidy(() => tf.reshape(linearForward(x2, W, bias), [B, T, O])),
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const xs = saved[0] as tf.Tensor2D;
            const dy2 = tf.reshape(dy, [B * T, O]) as tf.Tensor2D;
            const biasSquares = (): tf.Tensor => tf.sum(tf.square(tf.sum(tf.reshape(dy2, [B, T, O]), 1)), 0);
            // Own tidy: the tape frees backward intermediates only when the whole pass ends, and
            // B squared weight gradients per layer would pile up until then.
            tf.tidy(() => {
              if (T === 1) {
                // Pooler and classifier: one position, each example's gradient is an outer product.
                acc.add(`${prefix}.weight`, [tf.matMul(tf.transpose(tf.square(dy2)), tf.square(xs))]);
                acc.add(`${prefix}.bias`, [tf.sum(tf.square(dy2), 0)]);
              } else if (!backendIsCpu()) {
                // GPU backends: batched products, no per-example loop.
                acc.add(`${prefix}.weight`, [batchedSquaredWeightGrad(dy2, xs, B, T)]);
                acc.add(`${prefix}.bias`, [biasSquares()]);
              } else if (acc.addSquaredLinear?.(`${prefix}.weight`, dy2, xs, B)) {
                acc.add(`${prefix}.bias`, [biasSquares()]);
              } else {
                // 2-D matmuls per example (see linearForward for why not one batched matmul), summed
                // as they come so that one squared weight gradient at a time is alive.
                let wSum: tf.Tensor | null = null;
                const bSq: tf.Tensor[] = [];
                for (let b = 0; b < B; b++) {
                  const dyb = B === 1 ? dy2 : tf.slice(dy2, [b * T, 0], [T, O]);
                  const xb = B === 1 ? xs : tf.slice(xs, [b * T, 0], [T, I]);
                  const sq = tf.tidy(() => tf.square(tf.matMul(tf.transpose(dyb), xb)));
                  wSum = addDisposing(wSum, sq);
                  bSq.push(tf.square(tf.sum(dyb, 0)));
                }
                acc.add(`${prefix}.weight`, [wSum!]);
                acc.add(`${prefix}.bias`, bSq);
              }
            });
            return tf.reshape(inputGrad(dy2, W), [B, T, I]);
          },
        };
      }) as never); // tfjs types the callback as variadic (...inputs | save)
      return f(x) as tf.Tensor3D;
    },
    layerNorm(x, prefix, eps) {
      const g = P(`${prefix}.weight`);
      const b = P(`${prefix}.bias`);
      const f = tf.customGrad<tf.Tensor>(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
        const { xhat, rstd } = tf.tidy(() => normalise(xIn, eps));
        save([xhat, rstd]);
        return {
          value: tf.tidy(() => tf.add(tf.mul(xhat, g), b)),
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [xh, rs] = saved;
            tf.tidy(() => {
              acc.add(`${prefix}.weight`, [tf.sum(tf.square(tf.sum(tf.mul(dy, xh), 1)), 0)]);
              acc.add(`${prefix}.bias`, [tf.sum(tf.square(tf.sum(dy, 1)), 0)]);
            });
            return tf.tidy(() => layerNormInputGrad(tf.mul(dy, g), xh, rs));
          },
        };
      }) as never);
      return f(x) as tf.Tensor3D;
    },
  };
}
