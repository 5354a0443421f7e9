// Diagonal Fisher information of a BERT classifier: Σ over examples of squared per-example
// gradients of the cross-entropy, in batches, exact per example for any batch size.
import * as tf from '@tensorflow/tfjs-core';
import { StageInputError } from 'fisherflow';
import { forwardFromEmbeddings, crossEntropyRows, type BertForSequenceClassification } from '../../ml/bert/model.js';
import { makeBatch, type TokenizedRow } from '../../ml/bert/batch.js';
import { perExampleOps, DeviceSums, HostSink, type SquaredGradSink } from '../../ml/bert/per-example.js';
import { embeddingGradsOnDevice, WORD_EMBEDDINGS as WORD, POSITION_EMBEDDINGS as POS, TYPE_EMBEDDINGS as TYPE } from '../../ml/bert/embedding-grads.js';
import { parameterShapes } from '../../ml/bert/params.js';
import { HostAccumulator } from './accumulator.js';
import { exampleRandom } from './random.js';

import { FISHER_TYPES, type FisherType } from './fisher-types.js';
export { FISHER_TYPES, type FisherType };

export interface FisherOptions {
  fisher: FisherType;
  /** Labels drawn per example for fisher: true. */
  samples: number;
  seed: number;
  /** Examples per forward/backward pass. */
  batchSize: number;
  signal?: AbortSignal;
  /** Called after each batch with the number of examples it finished. */
  onExamples?: (n: number) => void;
  /** Sums to add into (shared between threads); a fresh one by default. */
  into?: HostAccumulator;
  /**
   * 'host': read each layer's squared gradients back into `into` during the backward pass (wasm,
   * cpu: cheap, and no model-sized sums inside the backend). 'device': keep every sum, the
   * embedding tables' included, as backend tensors and read them once at the end (GPU backends:
   * asynchronous reads only, no per-layer or per-example round trip).
   */
  accumulate?: 'host' | 'device';
}

/** An example with its 0-based row number in the data file (for messages and per-example seeds). */
export interface IndexedExample { index: number; row: TokenizedRow }

export interface FisherSums {
  /** Σ over examples of the (label-weighted) squared gradients, HF names, named_parameters order. */
  sums: Map<string, Float32Array>;
  examples: number;
}

/** One row of the backward pass: an example with a label and a weight on its squared gradient. */
interface PlannedRow { example: IndexedExample; label: number; weight: number }

function labelOf(ex: IndexedExample): number {
  const y = ex.row.labels ?? ex.row.label;
  return typeof y === 'number' ? y : -1;
}

function softmax64(logits: Float32Array, off: number, C: number): number[] {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, logits[off + c]);
  const e = Array.from({ length: C }, (_, c) => Math.exp(logits[off + c] - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * Sets each planned row's label and weight from the model's logits (fisher true/expected; for
 * empirical only the check): `stride` logit rows per example, the first of them used.
 */
function assignLabels(logits: Float32Array, stride: number, group: IndexedExample[], rows: PlannedRow[], reps: number, C: number, opts: FisherOptions): void {
  for (let g = 0; g < group.length; g++) {
    const off = g * stride * C;
    for (let c = 0; c < C; c++) {
      if (!Number.isFinite(logits[off + c])) throw new StageInputError(`data row ${group[g].index + 1}: the model's logits are not finite (${logits[off + c]})`);
    }
    if (opts.fisher === 'empirical') continue;
    const p = softmax64(logits, off, C);
    if (opts.fisher === 'expected') {
      for (let c = 0; c < C; c++) { rows[g * reps + c].label = c; rows[g * reps + c].weight = p[c]; }
    } else {
      const u = exampleRandom(opts.seed, group[g].index);
      for (let k = 0; k < reps; k++) {
        let r = u(), c = 0;
        while (c < C - 1 && r >= p[c]) { r -= p[c]; c++; }
        rows[g * reps + k].label = c;
        rows[g * reps + k].weight = 1 / reps;
      }
    }
  }
}

export async function fisherSums(model: BertForSequenceClassification, examples: IndexedExample[], opts: FisherOptions): Promise<FisherSums> {
  const cfg = model.config;
  const C = cfg.num_labels;
  const H = cfg.hidden_size;
  const reps = opts.fisher === 'empirical' ? 1 : opts.fisher === 'expected' ? C : opts.samples;
  if (opts.fisher === 'empirical') {
    for (const ex of examples) {
      const y = labelOf(ex);
      if (!(y >= 0 && y < C)) throw new StageInputError(`data row ${ex.index + 1}: fisher: empirical needs a label in 0..${C - 1}, got ${JSON.stringify(ex.row.labels ?? ex.row.label)}`);
    }
  }
  const host = opts.into ?? HostAccumulator.create(parameterShapes(cfg), false);
  const device = opts.accumulate === 'device' ? new DeviceSums() : null;
  const acc: SquaredGradSink = device ?? new HostSink(host);
  const P = (n: string): tf.Tensor => model.params.get(n)!;
  // Similar lengths together: less padding work (padding does not change the result).
  const order = [...examples].sort((a, b) => a.row.input_ids.length - b.row.input_ids.length || a.index - b.index);
  const bs = Math.max(1, Math.floor(opts.batchSize));
  // Device mode: a scalar computed at the end of the previous batch, awaited once the next batch
  // is queued, so the GPU always has work while progress reports count finished examples.
  let previous: { done: tf.Tensor; examples: number } | null = null;
  const finishPrevious = async (): Promise<void> => {
    if (!previous) return;
    const { done, examples: n } = previous;
    previous = null;
    try { await done.data(); } finally { done.dispose(); }
    opts.onExamples?.(n);
  };
  try {
    for (let start = 0; start < order.length; start += bs) {
      if (opts.signal?.aborted) throw new Error('aborted');
      const group = order.slice(start, start + bs);
      // Rows: each example once per label it contributes with; labels of fisher true/expected are
      // decided from the model's logits before the backward pass needs them.
      const rows: PlannedRow[] = [];
      for (const ex of group) for (let k = 0; k < reps; k++) rows.push({ example: ex, label: labelOf(ex), weight: 1 });
      if (device && opts.fisher !== 'empirical') {
        // tfjs's gradient call cannot wait for an asynchronous read inside the forward pass, so
        // on a GPU backend the labels come from a forward pass of their own.
        const pre = model.logits(makeBatch(group.map((ex) => ex.row), { padId: cfg.pad_token_id }));
        try { assignLabels(await pre.data() as Float32Array, 1, group, rows, reps, C, opts); } finally { pre.dispose(); }
      }
      const batch = makeBatch(rows.map((r) => r.example.row), { padId: cfg.pad_token_id });
      const { batchSize: R, seqLen: L } = batch;
      const emb = model.embeddingSum(batch);
      const mask = tf.tensor2d(batch.attentionMask, [R, L], 'int32');
      const f = (e: tf.Tensor): tf.Scalar => {
        const lt = forwardFromEmbeddings(cfg, e as tf.Tensor3D, mask, perExampleOps(P, acc));
        // Host mode (CPU backends): reading the logits here is a copy, no extra forward pass.
        if (!device) assignLabels(lt.dataSync() as Float32Array, reps, group, rows, reps, C, opts);
        const ce = crossEntropyRows(lt, Int32Array.from(rows, (r) => r.label));
        // √weight on the loss gives weight × squared gradient.
        const sw = tf.tensor1d(rows.map((r) => Math.sqrt(r.weight)));
        return tf.sum(tf.mul(ce, sw)) as tf.Scalar;
      };
      const [dEmbT] = tf.grads(f)([emb]);
      emb.dispose();
      mask.dispose();
      if (device) {
        tf.tidy(() => { for (const [name, t] of embeddingGradsOnDevice(dEmbT as tf.Tensor3D, batch, cfg, true)) device.add(name, [t]); });
        const done = tf.sum(dEmbT);
        dEmbT.dispose();
        await finishPrevious();
        previous = { done, examples: group.length };
      } else {
        const dEmb = dEmbT.dataSync() as Float32Array;
        dEmbT.dispose();
        scatterEmbeddingSquares(dEmb, batch.inputIds, batch.tokenTypeIds, R, L, H, cfg.pad_token_id, rows, host);
        opts.onExamples?.(group.length);
      }
    }
    await finishPrevious();
    if (device) for (const [name, t] of device.tensors) host.add(name, await t.data() as Float32Array);
    // Σ of squares is non-negative; a NaN/∞ in the sums came from one example's gradient: the
    // caller re-runs example by example to name it (checking every batch would cost a pass over
    // all sums).
    return { sums: host.views, examples: examples.length };
  } finally {
    (previous as { done: tf.Tensor } | null)?.done.dispose();
    device?.dispose();
  }
}

/** Per row: sum the row's gradient per distinct token (a repeated token's rows add first), square, add. */
function scatterEmbeddingSquares(
  dEmb: Float32Array, ids: Int32Array, types: Int32Array, R: number, L: number, H: number, padId: number,
  rows: PlannedRow[], host: HostAccumulator,
): void {
  const rowSquares = new Map<number, Float32Array>(); // token id → Σ over this batch's rows of squares
  const posSq = new Float32Array(L * H);
  const typeSq = new Map<number, Float32Array>();
  const perToken = new Map<number, Float32Array>();
  const perType = new Map<number, Float32Array>();
  for (let r = 0; r < R; r++) {
    perToken.clear();
    perType.clear();
    for (let l = 0; l < L; l++) {
      const src = (r * L + l) * H;
      const id = ids[r * L + l];
      const tt = types[r * L + l];
      let g = perType.get(tt);
      if (!g) { g = new Float32Array(H); perType.set(tt, g); }
      for (let j = 0; j < H; j++) {
        const v = dEmb[src + j];
        if (!Number.isFinite(v)) throw new StageInputError(`data row ${rows[r].example.index + 1}: a gradient is not finite (${v})`);
        g[j] += v;
        posSq[l * H + j] += v * v; // each position appears once per example
      }
      if (id === padId) continue; // nn.Embedding(padding_idx) never gets a gradient
      let w = perToken.get(id);
      if (!w) { w = new Float32Array(H); perToken.set(id, w); }
      for (let j = 0; j < H; j++) w[j] += dEmb[src + j];
    }
    for (const [id, g] of perToken) {
      let a = rowSquares.get(id);
      if (!a) { a = new Float32Array(H); rowSquares.set(id, a); }
      for (let j = 0; j < H; j++) a[j] += g[j] * g[j];
    }
    for (const [tt, g] of perType) {
      let a = typeSq.get(tt);
      if (!a) { a = new Float32Array(H); typeSq.set(tt, a); }
      for (let j = 0; j < H; j++) a[j] += g[j] * g[j];
    }
  }
  // Only the rows this batch used are touched (not the whole vocab × hidden table).
  host.withLock(WORD, (s) => { for (const [id, a] of rowSquares) for (let j = 0; j < H; j++) s[id * H + j] += a[j]; });
  host.withLock(POS, (s) => { for (let i = 0; i < posSq.length; i++) s[i] += posSq[i]; });
  host.withLock(TYPE, (s) => { for (const [tt, a] of typeSq) for (let j = 0; j < H; j++) s[tt * H + j] += a[j]; });
}

/** Whether every value is finite (used after the run; see fisherSums). */
export function allFinite(sums: Map<string, Float32Array>): string | null {
  for (const [name, a] of sums) for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return name;
  return null;
}
