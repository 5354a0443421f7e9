// Accuracy, mean cross-entropy, per-class accuracy and the confusion matrix of a model on a
// tokenized set, dropout off (the train stage's per-epoch evaluation and the evaluate stage).
import type * as tf from '@tensorflow/tfjs-core';
import type { Batch, TokenizedRow } from './batch.js';
import { makeBatch } from './batch.js';

/** What evaluation needs of a model (BertForSequenceClassification, or a stand-in in tests). */
export interface LogitsModel {
  logits(batch: Batch, opts?: { training?: boolean }): tf.Tensor2D;
}

export interface EvalResult {
  accuracy: number;
  /** Mean cross-entropy per example (HF's eval_loss weights each batch by its size, the same). */
  loss: number;
  examples: number;
  /** confusion[label][predicted]: counts, one row and column per class of the model. */
  confusion: number[][];
  /** Per true class: the share of its examples predicted as it (null for a class with none). */
  perClass: Array<number | null>;
  /** With `keepRows`, per example in the input's order: logits [n × classes], prediction, loss. */
  rows?: { logits: Float32Array; predicted: Int32Array; loss: Float64Array; classes: number };
}

export interface EvalOptions {
  batchSize: number;
  padTo?: number;
  padId?: number;
  signal?: AbortSignal;
  /** Keep every example's logits, prediction and loss (EvalResult.rows). */
  keepRows?: boolean;
  /** After each batch: examples done of all. */
  onProgress?(done: number, total: number): void;
}

/** Cross-entropy of each row of `logits` ([n, k] row-major) against `labels`, in float64. */
export function crossEntropyRows(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number): Float64Array {
  const n = labels.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[i * k + j] - max);
    out[i] = max + Math.log(sum) - logits[i * k + labels[i]];
  }
  return out;
}

export function batchesOf<T>(rows: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export async function evaluate(model: LogitsModel, rows: TokenizedRow[], opts: EvalOptions): Promise<EvalResult> {
  let correct = 0;
  let lossSum = 0;
  let confusion: number[][] = [];
  let kept: EvalResult['rows'] | undefined;
  // Batches of similar length (less padding, much faster with dynamic padding); the metrics do
  // not depend on the order, only the float summation does.
  const order = rows.map((r, i) => [r.input_ids.length, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
  let done = 0;
  for (const idx of batchesOf(order, opts.batchSize)) {
    await new Promise((resolve) => setImmediate(resolve)); // let an abort message arrive
    opts.signal?.throwIfAborted();
    const batch: Batch = makeBatch(idx.map((i) => rows[i]), { padTo: opts.padTo, padId: opts.padId });
    const t = model.logits(batch, { training: false });
    const [n, k] = t.shape;
    const logits = await t.data(); // asynchronous: GPU backends have no synchronous read in Node
    t.dispose();
    if (confusion.length === 0) confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    if (opts.keepRows && !kept) {
      kept = { logits: new Float32Array(rows.length * k), predicted: new Int32Array(rows.length), loss: new Float64Array(rows.length), classes: k };
    }
    const ce = crossEntropyRows(logits, batch.labels, k);
    for (let i = 0; i < n; i++) {
      lossSum += ce[i];
      let arg = 0;
      for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + arg]) arg = j;
      const y = batch.labels[i];
      if (arg === y) correct++;
      confusion[y][arg]++;
      if (kept) {
        const r = idx[i];
        kept.logits.set(logits.subarray(i * k, (i + 1) * k), r * k);
        kept.predicted[r] = arg;
        kept.loss[r] = ce[i];
      }
    }
    done += n;
    opts.onProgress?.(done, rows.length);
  }
  const n = rows.length;
  const perClass = confusion.map((row, y) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[y] / total : null;
  });
  return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : 0, examples: n, confusion, perClass, ...(kept ? { rows: kept } : {}) };
}
