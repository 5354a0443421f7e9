// Whether a checkpoint folder has a sequence-classification head. A pre-trained checkpoint
// (BertModel, BertForPreTraining, BertForMaskedLM: what `bert-base-cased` is) has none: fine-tuning
// starts from it with a new pooler/classifier, but the Fisher or the accuracy of a randomly
// initialised head means nothing, so the stages that read a model as it is refuse it.
import { existsSync } from 'node:fs';
import { StageInputError } from 'fisherflow';
import { readConfig } from './load.js';
import { openWeights } from './weights.js';

const HEAD = ['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias'];

/** The head parameters the folder's weights lack (read from the file's index only, no tensor data). */
export function missingHead(dir: string): string[] {
  if (!existsSync(dir)) return []; // the loader says what is missing
  const weights = openWeights(dir);
  try {
    return HEAD.filter((n) => !weights.has(n));
  } finally {
    weights.close();
  }
}

/** Refuses a checkpoint without a classification head, saying what it is and what to do. */
export function requireClassifierHead(dir: string, input: string, stageType: string): void {
  const missing = missingHead(dir);
  if (!missing.length) return;
  const arch = readConfig(dir).architectures?.[0];
  throw new StageInputError(
    `${input}: ${dir} is a checkpoint${arch ? ` (${arch})` : ''} without a sequence-classification head (it has no ${missing.join(', ')}); ` +
      `${stageType} needs a fine-tuned classifier, not a randomly initialised one. Fine-tune it first: a train stage with model: ${dir}, then use its outputs.model`,
  );
}
