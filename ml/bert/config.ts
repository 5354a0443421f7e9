// BertConfig: the fields of a Hugging Face BERT config.json that the model reads.
import { StageInputError } from 'fisherflow';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id: number;
  num_labels: number;
  classifier_dropout?: number | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  architectures?: string[];
  /** Anything else from config.json, written back unchanged by save(). */
  [extra: string]: unknown;
}

/** bert-base defaults, as transformers' BertConfig(). */
export const BERT_DEFAULTS: BertConfig = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
  num_labels: 2,
};

export const SUPPORTED_ACTIVATIONS = ['gelu', 'relu', 'gelu_new', 'gelu_pytorch_tanh', 'tanh'];

/** Completes a partial config with the defaults and checks it; `source` names the file for errors. */
export function resolveConfig(partial: Partial<BertConfig>, source = 'config'): BertConfig {
  const cfg: BertConfig = { ...BERT_DEFAULTS, ...partial } as BertConfig;
  // transformers derives num_labels from id2label when it is given.
  if (partial.num_labels === undefined && partial.id2label) cfg.num_labels = Object.keys(partial.id2label).length;
  if (partial.model_type !== undefined && partial.model_type !== 'bert') {
    throw new StageInputError(`${source}: model_type "${String(partial.model_type)}" is not supported; expected "bert"`);
  }
  const archs = partial.architectures;
  if (Array.isArray(archs) && archs.length > 0 && !archs.some((a) => /^Bert/.test(String(a)))) {
    throw new StageInputError(`${source}: architectures ${JSON.stringify(archs)} is not supported; expected a BERT model (BertForSequenceClassification)`);
  }
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size', 'num_labels'] as const) {
    const v = cfg[k];
    if (!Number.isInteger(v) || v <= 0) throw new StageInputError(`${source}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    throw new StageInputError(`${source}: hidden_size ${cfg.hidden_size} is not a multiple of num_attention_heads ${cfg.num_attention_heads}`);
  }
  if (!SUPPORTED_ACTIVATIONS.includes(cfg.hidden_act)) {
    throw new StageInputError(`${source}: hidden_act "${cfg.hidden_act}" is not supported; expected one of ${SUPPORTED_ACTIVATIONS.join(', ')}`);
  }
  return cfg;
}

/** The config.json that save() writes: HF-loadable as BertForSequenceClassification. */
export function configJson(cfg: BertConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg };
  out.architectures = ['BertForSequenceClassification'];
  out.model_type = 'bert';
  if (!cfg.id2label) {
    out.id2label = Object.fromEntries(Array.from({ length: cfg.num_labels }, (_, i) => [String(i), `LABEL_${i}`]));
    out.label2id = Object.fromEntries(Array.from({ length: cfg.num_labels }, (_, i) => [`LABEL_${i}`, i]));
  }
  out.position_embedding_type ??= 'absolute';
  out.torch_dtype ??= 'float32';
  return out;
}
