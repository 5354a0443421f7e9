// Gradients as the optimizer takes them: a dense tensor, or row-sparse — the few rows of an
// embedding table that a batch's tokens touched. A batch of 32 SST-2 rows touches a few hundred of
// the 28,999 word-embedding rows; as a dense tensor its gradient is 7.4 MB of mostly zeros (89 MB
// for BERT-base) to allocate, fill, copy into the backend and read back every step. Row-sparse, it
// is the touched rows only, and the optimizer still updates every row (AdamW's weight decay and
// moment decay apply to rows without a gradient too: this is not "lazy" Adam).
import type * as tf from '@tensorflow/tfjs-core';

export interface RowSparseGradient {
  /** Shape of the parameter: [rows, width]. */
  shape: [number, number];
  /** Ascending, unique ids of the rows that have a gradient; every other row's gradient is 0. */
  rows: Int32Array;
  /** Their gradient rows, `width` values each, in the order of `rows`. */
  values: Float32Array;
}

export type Gradient = tf.Tensor | RowSparseGradient;

export function isRowSparse(g: Gradient): g is RowSparseGradient {
  return (g as RowSparseGradient).rows instanceof Int32Array;
}

/** The dense values of a row-sparse gradient (a new array of the parameter's size). */
export function denseValues(g: RowSparseGradient): Float32Array {
  const [R, w] = g.shape;
  const out = new Float32Array(R * w);
  for (let k = 0; k < g.rows.length; k++) out.set(g.values.subarray(k * w, (k + 1) * w), g.rows[k] * w);
  return out;
}

/** Disposes the dense gradients (row-sparse ones are plain arrays). */
export function disposeGradients(grads: Map<string, Gradient>): void {
  for (const g of grads.values()) if (!isRowSparse(g)) g.dispose();
}
