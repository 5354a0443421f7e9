// A tiny stand-in for BertForSequenceClassification (same TrainableModel surface): mean-pooled
// word embeddings → per-dimension scale → dropout → linear, with hand-written gradients in plain
// JS (tfjs-core alone registers no gradient functions). Lets the trainer's loop, resume and
// metrics be tested independently of the BERT code, fast and on any backend.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../../ml/bert/batch.js';
import type { TrainableModel } from '../../stages/train/model-api.js';
import { SafetensorsFile, writeSafetensors } from '../../ml/safetensors/format.js';
import { mulberry32 } from '../../ml/rng/mulberry32.js';

const EMB = 'bert.embeddings.word_embeddings.weight';
const SCALE = 'bert.embeddings.LayerNorm.weight';
const W = 'classifier.weight';
const BIAS = 'classifier.bias';
const DROPOUT = 0.1;

const rng = mulberry32;

export class StandInModel implements TrainableModel {
  params = new Map<string, tf.Variable>();
  readonly vocab: number;
  readonly hidden: number;

  constructor(init: Map<string, { data: Float32Array; shape: number[] }>) {
    [this.vocab, this.hidden] = init.get(EMB)!.shape;
    for (const [name, t] of init) {
      const x = tf.tensor(t.data, t.shape, 'float32');
      this.params.set(name, tf.variable(x, true));
      x.dispose();
    }
  }

  static fromSeed(vocab: number, hidden: number, seed: number): StandInModel {
    const r = rng(seed);
    const normal = (n: number, std: number) => Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
    return new StandInModel(new Map([
      [EMB, { data: normal(vocab * hidden, 0.5), shape: [vocab, hidden] }],
      [SCALE, { data: new Float32Array(hidden).fill(1), shape: [hidden] }],
      [W, { data: normal(2 * hidden, 0.5), shape: [2, hidden] }],
      [BIAS, { data: new Float32Array(2), shape: [2] }],
    ]));
  }

  static async load(dir: string): Promise<StandInModel> {
    const f = SafetensorsFile.open(join(dir, 'model.safetensors'));
    const init = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const n of f.names()) init.set(n, { data: f.readFloat32(n), shape: f.info(n).shape });
    f.close();
    return new StandInModel(init);
  }

  private get(name: string): Float32Array { return this.params.get(name)!.dataSync() as Float32Array; }

  /** Forward pass; keeps what the backward pass needs. */
  private forward(batch: Batch, training: boolean, seed: number) {
    const H = this.hidden, B = batch.batchSize, L = batch.seqLen;
    const E = this.get(EMB), s = this.get(SCALE), w = this.get(W), bias = this.get(BIAS);
    const u = new Float32Array(B * H), keep = new Float32Array(B * H).fill(1), pd = new Float32Array(B * H);
    const counts = new Float32Array(B), logits = new Float32Array(B * 2);
    const r = rng(seed);
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        if (!batch.attentionMask[b * L + l]) continue;
        counts[b]++;
        const id = batch.inputIds[b * L + l];
        for (let j = 0; j < H; j++) u[b * H + j] += E[id * H + j];
      }
      for (let j = 0; j < H; j++) {
        u[b * H + j] /= counts[b];
        if (training) keep[b * H + j] = r() < DROPOUT ? 0 : 1 / (1 - DROPOUT);
        pd[b * H + j] = u[b * H + j] * s[j] * keep[b * H + j];
      }
      for (let c = 0; c < 2; c++) {
        let z = bias[c];
        for (let j = 0; j < H; j++) z += pd[b * H + j] * w[c * H + j];
        logits[b * 2 + c] = z;
      }
    }
    return { u, keep, pd, counts, logits, E, s, w };
  }

  logits(batch: Batch, opts: { training?: boolean; seed?: number } = {}): tf.Tensor2D {
    return tf.tensor2d(this.forward(batch, opts.training ?? false, opts.seed ?? 0).logits, [batch.batchSize, 2]);
  }

  async lossAndGrads(batch: Batch, opts: { training?: boolean; seed?: number } = {}) {
    const H = this.hidden, B = batch.batchSize, L = batch.seqLen;
    const f = this.forward(batch, opts.training ?? false, opts.seed ?? 0);
    const dE = new Float32Array(this.vocab * H), ds = new Float32Array(H), dw = new Float32Array(2 * H), db = new Float32Array(2);
    let loss = 0;
    for (let b = 0; b < B; b++) {
      const z0 = f.logits[b * 2], z1 = f.logits[b * 2 + 1], m = Math.max(z0, z1);
      const lse = m + Math.log(Math.exp(z0 - m) + Math.exp(z1 - m));
      const y = batch.labels[b];
      loss += lse - f.logits[b * 2 + y];
      const dz = [Math.exp(z0 - lse) - (y === 0 ? 1 : 0), Math.exp(z1 - lse) - (y === 1 ? 1 : 0)].map((v) => v / B);
      const dpd = new Float32Array(H);
      for (let c = 0; c < 2; c++) {
        db[c] += dz[c];
        for (let j = 0; j < H; j++) {
          dw[c * H + j] += dz[c] * f.pd[b * H + j];
          dpd[j] += dz[c] * f.w[c * H + j];
        }
      }
      for (let j = 0; j < H; j++) {
        const dp = dpd[j] * f.keep[b * H + j];
        ds[j] += dp * f.u[b * H + j];
        const du = dp * f.s[j] / f.counts[b];
        for (let l = 0; l < L; l++) if (batch.attentionMask[b * L + l]) dE[batch.inputIds[b * L + l] * H + j] += du;
      }
    }
    const grads = new Map<string, tf.Tensor>([
      [EMB, tf.tensor2d(dE, [this.vocab, H])],
      [SCALE, tf.tensor1d(ds)],
      [W, tf.tensor2d(dw, [2, H])],
      [BIAS, tf.tensor1d(db)],
    ]);
    return { loss: loss / B, logits: f.logits, grads };
  }

  async save(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    writeSafetensors(join(dir, 'model.safetensors'), [...this.params].map(([name, v]) => ({ name, shape: v.shape, data: v.dataSync() as Float32Array })));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ vocab_size: this.vocab, hidden_size: this.hidden }));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
