// Gradients of the three embedding tables (word, position, token type) from the gradient of the
// embedding sum [B, L, H], computed with backend ops: on a GPU backend nothing goes back to the
// host. The CPU backends scatter in JS instead (ml/bert/model.ts, stages/fim/fisher.ts), which is
// cheaper there. `squared`: the per-example squares Σ_b (g_b)² that the Fisher needs, where g_b is
// example b's gradient of a table row (a token repeated in one example adds up before squaring).
//
// Deterministic, without atomics: scatterND adds repeated indices with GPU atomics in whatever
// order they run, so a token's positions are first summed per example by a one-hot matmul
// ([B, S, L] × [B, L, H], S = the most distinct tokens in one example), then the examples are added
// one by one with scatters whose indices are distinct.
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batch.js';
import type { BertConfig } from './config.js';

export const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';
export const POSITION_EMBEDDINGS = 'bert.embeddings.position_embeddings.weight';
export const TYPE_EMBEDDINGS = 'bert.embeddings.token_type_embeddings.weight';

/** Host-side index data for one batch: which positions of each example hold which distinct token. */
interface TokenSlots {
  /** [B, S, L] one-hot: slot s of example b collects the positions holding its token (padding excluded). */
  select: Float32Array;
  slots: number;
  /** [B, S]: the slot's index into `tokens`, or tokens.length for an unused slot. */
  slotToken: Int32Array;
  /** The batch's distinct token ids, padding excluded. */
  tokens: Int32Array;
}

function tokenSlots(batch: Batch, padId: number): TokenSlots {
  const { batchSize: B, seqLen: L, inputIds } = batch;
  const perExample: Map<number, number>[] = [];
  let S = 1;
  for (let b = 0; b < B; b++) {
    const slotOf = new Map<number, number>();
    for (let l = 0; l < L; l++) {
      const id = inputIds[b * L + l];
      if (id !== padId && !slotOf.has(id)) slotOf.set(id, slotOf.size);
    }
    perExample.push(slotOf);
    S = Math.max(S, slotOf.size);
  }
  const tokenIndex = new Map<number, number>();
  for (const slotOf of perExample) for (const id of slotOf.keys()) if (!tokenIndex.has(id)) tokenIndex.set(id, tokenIndex.size);
  const select = new Float32Array(B * S * L);
  const slotToken = new Int32Array(B * S).fill(tokenIndex.size);
  perExample.forEach((slotOf, b) => {
    for (let l = 0; l < L; l++) {
      const id = inputIds[b * L + l];
      if (id !== padId) select[(b * S + slotOf.get(id)!) * L + l] = 1;
    }
    for (const [id, s] of slotOf) slotToken[b * S + s] = tokenIndex.get(id)!;
  });
  return { select, slots: S, slotToken, tokens: Int32Array.from(tokenIndex.keys()) };
}

/** Σ over examples of per-slot rows [B, S, H] into a [V, H] table, the examples added in order. */
function addSlotsByToken(values: tf.Tensor3D, plan: TokenSlots, V: number): tf.Tensor {
  const [B, S, H] = values.shape;
  const U = plan.tokens.length;
  if (U === 0) return tf.zeros([V, H]);
  // Row U collects the unused slots (all zero).
  let acc: tf.Tensor = tf.zeros([U + 1, H]);
  for (let b = 0; b < B; b++) {
    const next = tf.tidy(() => {
      const idx = tf.tensor2d(plan.slotToken.subarray(b * S, (b + 1) * S), [S, 1], 'int32');
      const rows = tf.reshape(tf.slice(values, [b, 0, 0], [1, S, H]), [S, H]);
      return tf.add(acc, tf.scatterND(idx, rows, [U + 1, H]));
    });
    acc.dispose();
    acc = next;
  }
  const out = tf.scatterND(tf.tensor2d(plan.tokens, [U, 1], 'int32'), tf.slice(acc, [0, 0], [U, H]), [V, H]);
  acc.dispose();
  return out;
}

/**
 * The three tables' gradients (or per-example squares) from dEmb [B, L, H]; the padding token's
 * row gets nothing (nn.Embedding's padding_idx), positions and types count every position, as
 * the host scatters do. Returns new tensors of the tables' shapes; dEmb is not disposed.
 */
export function embeddingGradsOnDevice(dEmb: tf.Tensor3D, batch: Batch, cfg: BertConfig, squared: boolean): Map<string, tf.Tensor> {
  const { batchSize: B, seqLen: L } = batch;
  const TV = cfg.type_vocab_size;
  const plan = tokenSlots(batch, cfg.pad_token_id);
  const types = new Float32Array(B * TV * L);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) types[(b * TV + batch.tokenTypeIds[b * L + l]) * L + l] = 1;
  const maybeSquare = (t: tf.Tensor): tf.Tensor => (squared ? tf.square(t) : t);
  return new Map(Object.entries(tf.tidy(() => {
    const words = maybeSquare(tf.matMul(tf.tensor3d(plan.select, [B, plan.slots, L]), dEmb)) as tf.Tensor3D;
    const perType = maybeSquare(tf.matMul(tf.tensor3d(types, [B, TV, L]), dEmb));
    const positions = tf.sum(maybeSquare(dEmb), 0);
    return {
      [WORD_EMBEDDINGS]: addSlotsByToken(words, plan, cfg.vocab_size),
      [POSITION_EMBEDDINGS]: tf.pad(positions, [[0, cfg.max_position_embeddings - L], [0, 0]]),
      [TYPE_EMBEDDINGS]: tf.sum(perType, 0),
    };
  })));
}
