// BERT for sequence classification in TensorFlow.js, numerically equal to Hugging Face's
// BertForSequenceClassification (eval mode) and loadable from / savable to HF checkpoints.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle has no gradient functions; the @tensorflow/tfjs bundle registers them
// (into the engine shared through globalThis).
import '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from 'fisherflow';
import { resolveConfig, configJson, type BertConfig } from './config.js';
import { parameterShapes, initKind, numel } from './params.js';
import type { Batch } from './batch.js';
import { loadCheckpoint } from '../checkpoint/load.js';
import { copyTokenizerFiles } from '../checkpoint/files.js';
import { writeSafetensors } from '../safetensors/format.js';
import { nativeColumnSum, nativeGelu, nativeGeluGrad, nativeLayerKernelsActive, nativeMatmulActive } from './native-blas.js';
import { embeddingGradsOnDevice } from './embedding-grads.js';
import type { Gradient } from '../optim/gradient.js';
import { backendIsCpu, wasmHeapView } from '../optim/adamw.js';

/** HF's extended attention mask adds torch.finfo(float32).min at padded keys. */
const MASK_VALUE = -3.4028234663852886e38;


/**
 * How the forward pass applies the layers that own parameters. The default (plainOps) uses
 * ordinary differentiable ops; the Fisher code swaps in ops whose gradient also records
 * per-example squared parameter gradients (ml/bert/per-example.ts).
 */
export interface LayerOps {
  /** x: [B, T, in] → [B, T, out] with weight [out, in] (HF Linear layout). */
  linear(x: tf.Tensor3D, prefix: string): tf.Tensor3D;
  /** LayerNorm over the last axis of x [B, T, H] with the parameters under prefix. */
  layerNorm(x: tf.Tensor3D, prefix: string, eps: number): tf.Tensor3D;
}

/*
 * Param-free blocks with hand-written gradients. Besides speed, they keep the gradient tape
 * short: tfjs keeps every taped intermediate and its gradient until the whole backward pass ends,
 * which for BERT-base with 8 examples of 28 tokens was ≈1.6 GB; a customGrad block keeps only
 * its saved tensors and frees its backward temporaries at once.
 */

/** LayerNorm statistics: xhat = (x − μ)/σ and 1/σ, σ = √(var + eps) (biased variance, as PyTorch). */
export function normalise(x: tf.Tensor, eps: number): { xhat: tf.Tensor; rstd: tf.Tensor } {
  const { mean, variance } = tf.moments(x, -1, true);
  const rstd = tf.rsqrt(tf.add(variance, eps));
  return { xhat: tf.mul(tf.sub(x, mean), rstd), rstd };
}

/** dx of LayerNorm from dxhat = dy ⊙ γ: (dxhat − mean(dxhat) − xhat ⊙ mean(dxhat ⊙ xhat)) / σ. */
export function layerNormInputGrad(dxhat: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor): tf.Tensor {
  const m1 = tf.mean(dxhat, -1, true);
  const m2 = tf.mean(tf.mul(dxhat, xhat), -1, true);
  return tf.mul(tf.sub(tf.sub(dxhat, m1), tf.mul(xhat, m2)), rstd);
}

/**
 * Exact (erf) GELU: x Φ(x); gradient Φ(x) + x φ(x). On wasm with the native addon, one C kernel
 * each way (wasm's own Erf and Exp are ~25 ns per element: 9 ms for one demo activation).
 */
export const geluErf = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: nativeLayerKernelsActive() && x.dtype === 'float32' ? nativeGelu(x) : tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const xs = saved[0];
      if (nativeLayerKernelsActive() && xs.dtype === 'float32' && dy.dtype === 'float32') return nativeGeluGrad(xs, dy);
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(xs, Math.SQRT1_2))));
      const pdf = tf.mul(1 / Math.sqrt(2 * Math.PI), tf.exp(tf.mul(-0.5, tf.square(xs))));
      return tf.mul(dy, tf.add(cdf, tf.mul(xs, pdf)));
    }),
  };
}) as never) as (x: tf.Tensor) => tf.Tensor;

/**
 * Σ over every axis but the last (a bias or LayerNorm parameter's gradient): the addon's column
 * sum on wasm (tfjs-backend-wasm's Sum over leading axes transposes first), tf.sum elsewhere.
 * `axes`, when given, must be exactly those leading axes.
 */
function columnSum(x: tf.Tensor, axes?: number[]): tf.Tensor {
  if (nativeLayerKernelsActive() && x.dtype === 'float32') return nativeColumnSum(x);
  return tf.sum(x, axes ?? Array.from({ length: x.rank - 1 }, (_, i) => i));
}

/** softmax(q kᵀ · scale + mask) v for q, k, v [B, nh, L, hd] and mask [B, 1, 1, L], without dropout. */
export function attentionCore(scale: number): (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor, save: tf.GradSaveFunc) => {
    const probs = tf.tidy(() => tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask), -1));
    save([q, k, v, probs]);
    return {
      value: tf.matMul(probs, v),
      gradFunc: (dctx: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [qs, ks, vs, p] = saved;
        const dp = tf.matMul(dctx, vs, false, true);
        const dv = tf.matMul(p, dctx, true, false);
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
        return [tf.matMul(ds, ks), tf.matMul(ds, qs, true, false), dv, tf.zerosLike(mask)];
      }),
    };
  }) as never) as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor) => tf.Tensor;
}

export type ParamGetter = (name: string) => tf.Tensor;

/**
 * Linear layer y = x Wᵀ + b. With native BLAS (ml/bert/native-blas.ts) or on a GPU backend every
 * layout is one kernel. Otherwise it is written with 2-D, non-transposed matmuls only: tfjs-backend-wasm
 * sends matMul with transposeA/transposeB (which tfjs's own matMul gradient uses) and batched
 * matmuls to a naive loop 10-20× slower than its XNNPACK path. Forward is then (W xᵀ)ᵀ, so the
 * weight is never copied or transposed; only the small activations are.
 */
export function linearForward(x2: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor): tf.Tensor2D {
  if (nativeMatmulActive() || !backendIsCpu()) return tf.add(tf.matMul(x2, W, false, true), b) as tf.Tensor2D;
  return tf.add(tf.transpose(tf.matMul(W, tf.transpose(x2))), b) as tf.Tensor2D;
}

/** dyᵀ x (a linear layer's weight gradient from [N, O] and [N, I]) in the fastest layout. */
export function weightGrad(dy2: tf.Tensor2D, x2: tf.Tensor2D): tf.Tensor2D {
  if (nativeMatmulActive() || !backendIsCpu()) return tf.matMul(dy2, x2, true, false);
  return tf.matMul(tf.transpose(dy2), x2);
}

export function plainOps(P: ParamGetter): LayerOps {
  const linear = tf.customGrad(((x: tf.Tensor, W: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [B, T, I] = x.shape as [number, number, number];
    const O = W.shape[0];
    const x2 = tf.reshape(x, [B * T, I]) as tf.Tensor2D;
    save([x2, W]);
    return {
      value: tf.tidy(() => tf.reshape(linearForward(x2, W as tf.Tensor2D, b), [B, T, O])),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [xs, Ws] = saved as tf.Tensor2D[];
        const dy2 = tf.reshape(dy, [B * T, O]) as tf.Tensor2D;
        return [
          tf.reshape(tf.matMul(dy2, Ws), [B, T, I]),
          weightGrad(dy2, xs),
          columnSum(dy2),
        ];
      }),
    };
  }) as never) as (x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  return {
    linear(x, prefix) {
      return linear(x, P(`${prefix}.weight`), P(`${prefix}.bias`)) as tf.Tensor3D;
    },
    layerNorm(x, prefix, eps) {
      const ln = tf.customGrad(((xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
        const { xhat, rstd } = tf.tidy(() => normalise(xIn, eps));
        save([xhat, rstd, g]);
        return {
          value: tf.tidy(() => tf.add(tf.mul(xhat, g), b)),
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
            const [xh, rs, gs] = saved;
            const axes = [...Array(dy.rank - 1).keys()];
            return [layerNormInputGrad(tf.mul(dy, gs), xh, rs), columnSum(tf.mul(dy, xh), axes), columnSum(dy, axes)];
          }),
        };
      }) as never) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
      return ln(x, P(`${prefix}.weight`), P(`${prefix}.bias`)) as tf.Tensor3D;
    },
  };
}

export interface ForwardOptions { training?: boolean; seed?: number }

/**
 * Everything after the embedding lookup: from the sum of word, position and token-type
 * embeddings [B, L, H] to the logits [B, C]. Kept separate so gradients can be taken with respect
 * to the embedding sum (tfjs-backend-wasm has no kernel for gather's gradient).
 */
export function forwardFromEmbeddings(cfg: BertConfig, embSum: tf.Tensor3D, attentionMask: tf.Tensor2D, ops: LayerOps, opts: ForwardOptions = {}): tf.Tensor2D {
  const [B, L, H] = embSum.shape;
  const nh = cfg.num_attention_heads;
  const hd = H / nh;
  const training = opts.training ?? false;
  let dropCount = 0;
  const baseSeed = (opts.seed ?? 0) * 7919;
  const dropout = <T extends tf.Tensor>(x: T, rate: number): T => {
    if (!training || !(rate > 0)) return x;
    return tf.dropout(x, rate, undefined, baseSeed + ++dropCount) as T;
  };
  const layerNorm = (x: tf.Tensor3D, prefix: string): tf.Tensor3D => ops.layerNorm(x, prefix, cfg.layer_norm_eps);
  const act = (x: tf.Tensor3D): tf.Tensor3D => {
    switch (cfg.hidden_act) {
      case 'gelu': // exact erf form, as HF's GELUActivation
        return geluErf(x) as tf.Tensor3D;
      case 'gelu_new': case 'gelu_pytorch_tanh': {
        const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
      }
      case 'relu': return tf.relu(x);
      case 'tanh': return tf.tanh(x);
      default: throw new StageInputError(`hidden_act "${cfg.hidden_act}" is not supported`);
    }
  };
  // [B, L] mask → additive [B, 1, 1, L]
  const maskAdd = tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASK_VALUE), [B, 1, 1, L]);
  const heads = (x: tf.Tensor3D): tf.Tensor4D => tf.transpose(tf.reshape(x, [B, L, nh, hd]), [0, 2, 1, 3]);
  const scale = 1 / Math.sqrt(hd);
  const core = attentionCore(scale);

  let h = dropout(layerNorm(embSum, 'bert.embeddings.LayerNorm'), cfg.hidden_dropout_prob);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}`;
    const q = heads(ops.linear(h, `${p}.attention.self.query`));
    const k = heads(ops.linear(h, `${p}.attention.self.key`));
    const v = heads(ops.linear(h, `${p}.attention.self.value`));
    let ctx4: tf.Tensor;
    if (training && cfg.attention_probs_dropout_prob > 0) {
      // Dropout on the attention probabilities: plain taped ops.
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), maskAdd);
      ctx4 = tf.matMul(dropout(tf.softmax(scores, -1), cfg.attention_probs_dropout_prob), v);
    } else {
      ctx4 = core(q, k, v, maskAdd);
    }
    const ctx = tf.reshape(tf.transpose(ctx4, [0, 2, 1, 3]), [B, L, H]) as tf.Tensor3D;
    const attnOut = dropout(ops.linear(ctx, `${p}.attention.output.dense`), cfg.hidden_dropout_prob);
    const h1 = layerNorm(tf.add(attnOut, h), `${p}.attention.output.LayerNorm`);
    const inter = act(ops.linear(h1, `${p}.intermediate.dense`));
    const out = dropout(ops.linear(inter, `${p}.output.dense`), cfg.hidden_dropout_prob);
    h = layerNorm(tf.add(out, h1), `${p}.output.LayerNorm`);
  }
  const first = tf.slice(h, [0, 0, 0], [B, 1, H]);
  const pooled = tf.tanh(ops.linear(first, 'bert.pooler.dense'));
  const clsDrop = cfg.classifier_dropout ?? cfg.hidden_dropout_prob;
  const logits = ops.linear(dropout(pooled, clsDrop), 'classifier');
  return tf.reshape(logits, [B, cfg.num_labels]);
}

/** Per-row cross-entropy (natural log) of logits [B, C] against integer labels; -1/-100 rows give 0. */
export function crossEntropyRows(logits: tf.Tensor2D, labels: Int32Array): tf.Tensor1D {
  const C = logits.shape[1];
  // One-hot product instead of gather: gather's gradient kernel is missing on wasm.
  const oh = tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels, (y) => (y >= 0 && y < C ? y : -1)), 'int32'), C), 'float32');
  return tf.neg(tf.sum(tf.mul(oh, tf.logSoftmax(logits, -1)), -1));
}

export class BertForSequenceClassification {
  config: BertConfig;
  params: Map<string, tf.Variable>;
  /** Where the weights came from (for metadata and logs). */
  source: { dir?: string; weightsFile?: string; format?: string; initialised?: string[] } = {};

  private constructor(config: BertConfig, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
  }

  static fromConfig(config: Partial<BertConfig>, seed: number): BertForSequenceClassification {
    const cfg = resolveConfig(config);
    const params = new Map<string, tf.Variable>();
    let i = 0;
    for (const [name, shape] of parameterShapes(cfg)) {
      params.set(name, tf.variable(initTensor(cfg, name, shape, seed * 100003 + i++), true));
    }
    return new BertForSequenceClassification(cfg, params);
  }

  /**
   * Loads config.json + model.safetensors | pytorch_model.bin. `vocabSize` larger than the
   * checkpoint's resizes the word embeddings (tokenizer with added tokens); a missing pooler or
   * classifier (pre-trained base model) is initialised as HF does, with `seed`.
   */
  static async fromPretrained(dir: string, opts: { vocabSize?: number; seed?: number } = {}): Promise<BertForSequenceClassification> {
    const loaded = new Map<string, tf.Variable>();
    // Each tensor goes to the backend as soon as it is read (see loadCheckpoint).
    const ck = loadCheckpoint(dir, (name, t) => {
      const init = tf.tensor(t.data, t.shape, 'float32');
      loaded.set(name, tf.variable(init, true));
      init.dispose();
    });
    const params = new Map<string, tf.Variable>();
    let i = 0;
    for (const [name, shape] of parameterShapes(ck.config)) {
      let v = loaded.get(name);
      if (!v) {
        const init = initTensor(ck.config, name, shape, (opts.seed ?? 0) * 100003 + i);
        v = tf.variable(init, true);
        init.dispose();
      }
      params.set(name, v);
      i++;
    }
    const model = new BertForSequenceClassification(ck.config, params);
    model.source = { dir, weightsFile: ck.weightsFile, format: ck.format, initialised: ck.missing };
    if (opts.vocabSize !== undefined && opts.vocabSize > ck.config.vocab_size) model.resizeTokenEmbeddings(opts.vocabSize, opts.seed ?? 0);
    return model;
  }

  resizeTokenEmbeddings(newVocab: number, seed = 0): void {
    const name = 'bert.embeddings.word_embeddings.weight';
    const old = this.params.get(name)!;
    const [V, H] = old.shape;
    if (newVocab === V) return;
    const kept = Math.min(V, newVocab);
    const next = tf.tidy(() => {
      const head = tf.slice(old, [0, 0], [kept, H]);
      if (newVocab <= V) return head;
      // New rows as HF's _init_weights: normal(0, initializer_range).
      const extra = tf.randomNormal([newVocab - V, H], 0, this.config.initializer_range, 'float32', seed * 100003 + 99991);
      return tf.concat([head, extra], 0);
    });
    old.dispose();
    this.params.set(name, tf.variable(next, true));
    next.dispose();
    this.config.vocab_size = newVocab;
  }

  /** Sum of word, position and token-type embeddings [B, L, H] (outside any gradient tape). */
  embeddingSum(batch: Batch): tf.Tensor3D {
    const { batchSize: B, seqLen: L } = batch;
    const H = this.config.hidden_size;
    this.checkBatch(batch);
    const sum = this.embeddingSumOnHeap(batch);
    if (sum) return sum;
    return tf.tidy(() => {
      const w = tf.gather(this.params.get('bert.embeddings.word_embeddings.weight')!, tf.tensor1d(batch.inputIds, 'int32'));
      const t = tf.gather(this.params.get('bert.embeddings.token_type_embeddings.weight')!, tf.tensor1d(batch.tokenTypeIds, 'int32'));
      const p = tf.slice(this.params.get('bert.embeddings.position_embeddings.weight')!, [0, 0], [L, H]);
      return tf.add(tf.reshape(tf.add(w, t), [B, L, H]), p) as tf.Tensor3D;
    });
  }

  /**
   * embeddingSum on wasm, read straight from the tables in the wasm heap: tfjs-backend-wasm's
   * GatherV2 took 33 ms for the 1,408 rows of one demo batch from the 28,999-row table. Same
   * float32 sums in the same order, (word + type) + position, so the same bits. Null elsewhere.
   */
  private embeddingSumOnHeap(batch: Batch): tf.Tensor3D | null {
    const { batchSize: B, seqLen: L } = batch;
    const H = this.config.hidden_size;
    const out = new Float32Array(B * L * H);
    // Views after the allocation above and before the next tfjs one (heap growth detaches them).
    const word = wasmHeapView(this.params.get('bert.embeddings.word_embeddings.weight')!);
    const type = wasmHeapView(this.params.get('bert.embeddings.token_type_embeddings.weight')!);
    const pos = wasmHeapView(this.params.get('bert.embeddings.position_embeddings.weight')!);
    if (!word || !type || !pos) return null;
    const f = Math.fround;
    for (let r = 0; r < B * L; r++) {
      const w = batch.inputIds[r] * H, t = batch.tokenTypeIds[r] * H, p = (r % L) * H, o = r * H;
      for (let j = 0; j < H; j++) out[o + j] = f(f(word[w + j] + type[t + j]) + pos[p + j]);
    }
    return tf.tensor3d(out, [B, L, H]);
  }

  private checkBatch(batch: Batch): void {
    const cfg = this.config;
    if (batch.seqLen > cfg.max_position_embeddings) {
      throw new StageInputError(`sequence length ${batch.seqLen} exceeds max_position_embeddings ${cfg.max_position_embeddings}`);
    }
    for (let i = 0; i < batch.inputIds.length; i++) {
      const id = batch.inputIds[i];
      if (id < 0 || id >= cfg.vocab_size) {
        throw new StageInputError(`example ${Math.floor(i / batch.seqLen)}: token id ${id} is outside the model's vocabulary (vocab_size ${cfg.vocab_size}); resize the embeddings for added tokens`);
      }
      const tt = batch.tokenTypeIds[i];
      if (tt < 0 || tt >= cfg.type_vocab_size) throw new StageInputError(`example ${Math.floor(i / batch.seqLen)}: token type id ${tt} is outside type_vocab_size ${cfg.type_vocab_size}`);
    }
  }

  private maskTensor(batch: Batch): tf.Tensor2D {
    return tf.tensor2d(batch.attentionMask, [batch.batchSize, batch.seqLen], 'int32');
  }

  logits(batch: Batch, opts: ForwardOptions = {}): tf.Tensor2D {
    const emb = this.embeddingSum(batch);
    try {
      return tf.tidy(() => forwardFromEmbeddings(this.config, emb, this.maskTensor(batch), plainOps((n) => this.params.get(n)!), opts));
    } finally { emb.dispose(); }
  }

  /**
   * Mean cross-entropy over the rows with a label and the gradient of every parameter, in HF
   * layout. Embedding gradients come from the gradient of the embedding sum, with the padding row
   * left at zero as nn.Embedding(padding_idx) does: scattered in JS on the CPU backends, with
   * backend ops on GPU backends (whose only reads are the loss and logits, asynchronous). With
   * `sparseEmbeddingGrads` on the CPU backends the word embeddings' gradient is row-sparse
   * (ml/optim/gradient.ts): only the rows of the batch's tokens, the same values as the dense
   * tensor's.
   */
  lossAndGrads(batch: Batch, opts?: ForwardOptions & { sparseEmbeddingGrads?: false }): Promise<{ loss: number; logits: Float32Array; grads: Map<string, tf.Tensor> }>;
  lossAndGrads(batch: Batch, opts: ForwardOptions & { sparseEmbeddingGrads?: boolean }): Promise<{ loss: number; logits: Float32Array; grads: Map<string, Gradient> }>;
  async lossAndGrads(batch: Batch, opts: ForwardOptions & { sparseEmbeddingGrads?: boolean } = {}): Promise<{ loss: number; logits: Float32Array; grads: Map<string, Gradient> }> {
    const cfg = this.config;
    const { batchSize: B, seqLen: L } = batch;
    const H = cfg.hidden_size;
    const valid = batch.labels.reduce((n, y) => n + (y >= 0 && y < cfg.num_labels ? 1 : 0), 0);
    if (valid === 0) throw new StageInputError('lossAndGrads: the batch has no labelled rows');
    const names = [...this.params.keys()].filter((n) => !n.startsWith('bert.embeddings.') || n.includes('LayerNorm'));
    const emb = this.embeddingSum(batch);
    const mask = this.maskTensor(batch);
    let logitsT: tf.Tensor2D | null = null;
    const f = (e: tf.Tensor, ...ps: tf.Tensor[]): tf.Scalar => {
      const byName = new Map(names.map((n, i) => [n, ps[i]]));
      const logits = forwardFromEmbeddings(cfg, e as tf.Tensor3D, mask, plainOps((n) => byName.get(n)!), opts);
      logitsT = tf.keep(logits);
      return tf.div(tf.sum(crossEntropyRows(logits, batch.labels)), valid) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)([emb, ...names.map((n) => this.params.get(n)!)]);
    emb.dispose();
    mask.dispose();
    const out = new Map<string, Gradient>();
    names.forEach((n, i) => out.set(n, grads[i + 1]));
    if (!backendIsCpu()) {
      for (const [n, g] of embeddingGradsOnDevice(grads[0] as tf.Tensor3D, batch, cfg, false)) out.set(n, g);
      grads[0].dispose();
    }
    const lt = logitsT as unknown as tf.Tensor2D;
    const [lossData, logits] = await Promise.all([value.data(), lt.data() as Promise<Float32Array>]);
    value.dispose();
    lt.dispose();
    if (!backendIsCpu()) return { loss: lossData[0], logits, grads: this.inParamOrder(out) };
    const dEmb = await grads[0].data() as Float32Array;
    grads[0].dispose();
    // Scatter-add the embedding-sum gradient into the three tables: the word table's gradient as
    // dense rows (row id × H) or row-sparse (slot of the id among the batch's ids × H).
    const V = cfg.vocab_size;
    const ids = batch.inputIds;
    const pad = cfg.pad_token_id;
    const sparseRows = opts.sparseEmbeddingGrads ? Int32Array.from(new Set(ids.filter((id) => id !== pad))).sort() : null;
    const slotOf = sparseRows ? new Map(Array.from(sparseRows, (id, k) => [id, k])) : null;
    const dWord = new Float32Array((sparseRows ? sparseRows.length : V) * H);
    const dPos = new Float32Array(cfg.max_position_embeddings * H);
    const dType = new Float32Array(cfg.type_vocab_size * H);
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        const r = b * L + l;
        const src = r * H;
        const id = ids[r];
        const tt = batch.tokenTypeIds[r];
        const padRow = id === pad;
        const wordRow = padRow ? 0 : (slotOf ? slotOf.get(id)! : id) * H;
        for (let j = 0; j < H; j++) {
          const g = dEmb[src + j];
          if (!padRow) dWord[wordRow + j] += g;
          dPos[l * H + j] += g;
          dType[tt * H + j] += g;
        }
      }
    }
    out.set('bert.embeddings.word_embeddings.weight', sparseRows ? { shape: [V, H], rows: sparseRows, values: dWord } : tf.tensor2d(dWord, [V, H]));
    out.set('bert.embeddings.position_embeddings.weight', tf.tensor2d(dPos, [cfg.max_position_embeddings, H]));
    out.set('bert.embeddings.token_type_embeddings.weight', tf.tensor2d(dType, [cfg.type_vocab_size, H]));
    return { loss: lossData[0], logits, grads: this.inParamOrder(out) };
  }

  /** The same map in named_parameters order. */
  private inParamOrder<G extends Gradient>(grads: Map<string, G>): Map<string, G> {
    const ordered = new Map<string, G>();
    for (const n of this.params.keys()) ordered.set(n, grads.get(n)!);
    return ordered;
  }

  /**
   * config.json (HF-loadable) + model.safetensors, and the tokenizer files if given a folder.
   * `metadata`: extra string entries for the safetensors header (e.g. the backend and device).
   */
  async save(dir: string, opts: { tokenizerDir?: string; metadata?: Record<string, string> } = {}): Promise<void> {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson(this.config), null, 2) + '\n');
    // Asynchronous reads: GPU backends have no synchronous one in Node.
    const tensors = await Promise.all([...this.params].map(async ([name, v]) => ({ name, shape: v.shape, data: await v.data() as Float32Array })));
    // transformers refuses safetensors files whose metadata lacks format "pt".
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { ...opts.metadata, format: 'pt' });
    if (opts.tokenizerDir) copyTokenizerFiles(opts.tokenizerDir, dir);
  }

  /** Number of parameters (elements). */
  numParameters(): number {
    let n = 0;
    for (const v of this.params.values()) n += numel(v.shape);
    return n;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

function initTensor(cfg: BertConfig, name: string, shape: number[], seed: number): tf.Tensor {
  const kind = initKind(name);
  if (kind === 'ones') return tf.ones(shape);
  if (kind === 'zeros') return tf.zeros(shape);
  return tf.tidy(() => {
    let t = tf.randomNormal(shape, 0, cfg.initializer_range, 'float32', seed);
    if (name === 'bert.embeddings.word_embeddings.weight' && cfg.pad_token_id >= 0 && cfg.pad_token_id < shape[0]) {
      // HF zeroes the padding_idx row after the normal init.
      const keep = tf.reshape(tf.oneHot(tf.tensor1d([cfg.pad_token_id], 'int32'), shape[0]), [shape[0], 1]);
      t = tf.mul(t, tf.sub(1, keep));
    }
    return t;
  });
}
