// The part of ml/bert's BertForSequenceClassification that training uses. A structural type,
// so the trainer can be tested with a stand-in and does not import the model at type level.
import type * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../../ml/bert/batch.js';
import type { Gradient } from '../../ml/optim/gradient.js';

export interface TrainableModel {
  /** HF parameter names → variables. */
  params: Map<string, tf.Variable>;
  /** `sparseEmbeddingGrads`: embedding tables' gradients may come row-sparse (the optimizer takes both). */
  lossAndGrads(batch: Batch, opts?: { training?: boolean; seed?: number; sparseEmbeddingGrads?: boolean }): Promise<{ loss: number; logits: Float32Array; grads: Map<string, Gradient> }>;
  logits(batch: Batch, opts?: { training?: boolean; seed?: number }): tf.Tensor2D;
  save(dir: string, opts?: { tokenizerDir?: string; metadata?: Record<string, string> }): Promise<void>;
  dispose(): void;
}
