// Accuracy and mean cross-entropy of a model on a tokenized set, dropout off.
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

export async function evaluate(
  model: LogitsModel,
  rows: TokenizedRow[],
  opts: { batchSize: number; padTo?: number; padId?: number; signal?: AbortSignal },
): Promise<EvalResult> {
  let correct = 0;
  let lossSum = 0;
  // Batches of similar length (less padding, much faster with dynamic padding); the metrics do
  // not depend on the order, only the float summation does.
  const sorted = rows.map((r, i) => [r.input_ids.length, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => rows[i]);
  for (const chunk of batchesOf(sorted, opts.batchSize)) {
    await new Promise((resolve) => setImmediate(resolve)); // let an abort message arrive
    opts.signal?.throwIfAborted();
    const batch: Batch = makeBatch(chunk, { padTo: opts.padTo, padId: opts.padId });
    const t = model.logits(batch, { training: false });
    const [n, k] = t.shape;
    const logits = await t.data(); // asynchronous: GPU backends have no synchronous read in Node
    t.dispose();
    const ce = crossEntropyRows(logits, batch.labels, k);
    for (let i = 0; i < n; i++) {
      lossSum += ce[i];
      let arg = 0;
      for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + arg]) arg = j;
      if (arg === batch.labels[i]) correct++;
    }
  }
  const n = rows.length;
  return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : 0, examples: n };
}
