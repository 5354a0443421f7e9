// The `with:` of the train stage: schema, semantic checks, and the settings they resolve to.
import { PATH_KEYWORD, HUB_KEYWORD, type JsonSchema } from 'fisherflow';
import type { TrainSettings } from './trainer.js';

export interface TrainInputs {
  data: string;
  eval?: Record<string, string>;
  model?: string;
  config?: Record<string, unknown>;
  tokenizer?: string;
  epochs?: number;
  batch_size?: number;
  eval_batch_size?: number;
  learning_rate?: number;
  weight_decay?: number;
  warmup_steps?: number;
  warmup_ratio?: number;
  max_grad_norm?: number;
  adam_beta1?: number;
  adam_beta2?: number;
  adam_epsilon?: number;
  seed?: number;
  padding?: 'dynamic' | 'max_length';
  max_length?: number;
  logging_steps?: number;
  group_by_length?: boolean;
  backend?: 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
}

/** Defaults: HF TrainingArguments where it has one, the paper's recipe (SHORTCUTS.md) otherwise. */
export const TRAIN_DEFAULTS = {
  epochs: 2,
  batch_size: 16,
  learning_rate: 2e-5,
  weight_decay: 0,
  warmup_steps: 0,
  warmup_ratio: 0,
  max_grad_norm: 1.0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  seed: 42,
  padding: 'dynamic' as const,
  max_length: 128,
  logging_steps: 50,
  backend: 'auto' as const,
};

const path = { type: 'string', minLength: 1, [PATH_KEYWORD]: true };

export const trainInputSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['data'],
  properties: {
    data: { ...path, description: 'Training set: the tokenize stage\'s data.jsonl (input_ids, token_type_ids, attention_mask, labels per row).' },
    eval: { type: 'object', additionalProperties: path, description: 'Evaluation sets by name (e.g. synthetic_dev, original_dev), tokenized jsonl; evaluated after every epoch.' },
    model: { ...path, [HUB_KEYWORD]: 'model', description: 'Checkpoint folder to fine-tune (config.json + model.safetensors or pytorch_model.bin; a pre-trained one without a classifier gets a new head), or a Hugging Face id in the local cache (bert-base-cased). Exclusive with config.' },
    config: {
      type: 'object',
      description: 'BERT config to train from scratch (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings, vocab_size, ...); unset fields take bert-base values, vocab_size the tokenizer\'s size.',
      properties: {
        vocab_size: { type: 'integer', minimum: 1 },
        hidden_size: { type: 'integer', minimum: 1 },
        num_hidden_layers: { type: 'integer', minimum: 1 },
        num_attention_heads: { type: 'integer', minimum: 1 },
        intermediate_size: { type: 'integer', minimum: 1 },
        max_position_embeddings: { type: 'integer', minimum: 1 },
        num_labels: { type: 'integer', minimum: 1 },
        hidden_dropout_prob: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        attention_probs_dropout_prob: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      },
    },
    tokenizer: { ...path, [HUB_KEYWORD]: 'tokenizer', description: 'Tokenizer folder (with the added tokens), or a Hugging Face id; copied into the saved checkpoint; its vocabulary size sizes or resizes the embeddings.' },
    epochs: { type: 'integer', minimum: 1, default: TRAIN_DEFAULTS.epochs },
    batch_size: { type: 'integer', minimum: 1, default: TRAIN_DEFAULTS.batch_size },
    eval_batch_size: { type: 'integer', minimum: 1, description: 'Default: batch_size.' },
    learning_rate: { type: 'number', exclusiveMinimum: 0, default: TRAIN_DEFAULTS.learning_rate },
    weight_decay: { type: 'number', minimum: 0, default: TRAIN_DEFAULTS.weight_decay },
    warmup_steps: { type: 'integer', minimum: 0, default: 0, description: 'Linear warm-up steps; wins over warmup_ratio when > 0.' },
    warmup_ratio: { type: 'number', minimum: 0, maximum: 1, default: 0, description: 'Warm-up as a fraction of all steps (rounded up).' },
    max_grad_norm: { type: 'number', minimum: 0, default: 1.0, description: 'Global L2 norm to clip gradients to; 0 turns clipping off.' },
    adam_beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
    adam_beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.999 },
    adam_epsilon: { type: 'number', minimum: 0, default: 1e-8 },
    seed: { type: 'integer', minimum: 0, default: TRAIN_DEFAULTS.seed, description: 'Seeds initialisation (from config), data order and dropout.' },
    padding: { enum: ['dynamic', 'max_length'], default: 'dynamic', description: 'dynamic: pad each batch to its longest row; max_length: pad every batch to max_length.' },
    max_length: { type: 'integer', minimum: 1, default: TRAIN_DEFAULTS.max_length, description: 'Length for padding: max_length; longer rows are an error then.' },
    logging_steps: { type: 'integer', minimum: 1, default: TRAIN_DEFAULTS.logging_steps, description: 'Steps per point of the loss curve in metrics.json.' },
    group_by_length: { type: 'boolean', default: false, description: 'Batch rows of similar length together (HF group_by_length): less padding with padding: dynamic, the same rows per epoch.' },
    backend: { enum: ['auto', 'wasm', 'cpu', 'tensorflow', 'webgpu'], default: 'auto' },
  },
};

export function checkTrainInputs(inputs: TrainInputs): string[] {
  const errors: string[] = [];
  if (inputs.model === undefined && inputs.config === undefined) errors.push('with.model: give a checkpoint folder to fine-tune, or with.config to train from scratch');
  if (inputs.model !== undefined && inputs.config !== undefined) errors.push('with.config: give either model (fine-tune) or config (from scratch), not both');
  if (inputs.model === undefined && inputs.config !== undefined && inputs.config.vocab_size === undefined && inputs.tokenizer === undefined) {
    errors.push('with.config.vocab_size: needed when no tokenizer is given (the tokenizer\'s size is used otherwise)');
  }
  if (inputs.eval) for (const name of Object.keys(inputs.eval)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) errors.push(`with.eval.${name}: eval set names may use letters, digits, _, . and - only`);
  }
  return errors;
}

export function settingsFrom(inputs: TrainInputs, padId: number): TrainSettings {
  const d = TRAIN_DEFAULTS;
  const batchSize = inputs.batch_size ?? d.batch_size;
  return {
    epochs: inputs.epochs ?? d.epochs,
    batchSize,
    evalBatchSize: inputs.eval_batch_size ?? batchSize,
    learningRate: inputs.learning_rate ?? d.learning_rate,
    weightDecay: inputs.weight_decay ?? d.weight_decay,
    warmupSteps: inputs.warmup_steps ?? d.warmup_steps,
    warmupRatio: inputs.warmup_ratio ?? d.warmup_ratio,
    maxGradNorm: inputs.max_grad_norm ?? d.max_grad_norm,
    seed: inputs.seed ?? d.seed,
    padTo: (inputs.padding ?? d.padding) === 'max_length' ? inputs.max_length ?? d.max_length : undefined,
    padId,
    loggingSteps: inputs.logging_steps ?? d.logging_steps,
    groupByLength: inputs.group_by_length ?? false,
    adamBetas: [inputs.adam_beta1 ?? d.adam_beta1, inputs.adam_beta2 ?? d.adam_beta2],
    adamEpsilon: inputs.adam_epsilon ?? d.adam_epsilon,
  };
}
