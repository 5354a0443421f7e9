// Before anything is merged: the checkpoints must describe the same network (config.json), use
// the same vocabulary (tokenizer files), and hold the same tensors with the same shapes. Every
// mismatch is an input error that names the input, the tensor or field, and both values.
import { StageInputError } from 'fisherflow';
import type { BertConfig } from '../../ml/bert/config.js';
import type { WeightsFile } from '../../ml/checkpoint/weights.js';
import { readVocabulary } from '../../ml/tokenizer/vocabulary.js';
import type { Source } from './inputs.js';

/** Config fields that change what a weight means: two models differing in one cannot be merged. */
const ARCHITECTURE_FIELDS = [
  'model_type', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act',
  'vocab_size', 'max_position_embeddings', 'type_vocab_size', 'num_labels', 'layer_norm_eps', 'position_embedding_type',
] as const;

const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
const shape = (s: number[]) => `[${s.join(', ')}]`;

/** `other`'s config against the first model's; `vocabMayGrow`: the base of task arithmetic may have fewer tokens. */
export function checkConfig(first: Source, firstConfig: BertConfig, other: Source, otherConfig: BertConfig, opts: { vocabMayGrow?: boolean } = {}): void {
  for (const f of ARCHITECTURE_FIELDS) {
    const a = firstConfig[f];
    const b = otherConfig[f];
    if (f === 'vocab_size' && opts.vocabMayGrow && (b as number) <= (a as number)) continue;
    if (a !== b && !(f === 'model_type' && (a ?? 'bert') === (b ?? 'bert')) && !(f === 'position_embedding_type' && (a ?? 'absolute') === (b ?? 'absolute'))) {
      throw new StageInputError(`with.${other.label}: config.json has ${f} ${show(b)} but ${first.label}'s has ${show(a)}; checkpoints with different architectures cannot be merged`);
    }
  }
}

/**
 * The tokenizers must agree token by token (a base may have fewer tokens: the added ones come
 * last). A folder without tokenizer files is not compared.
 */
export function checkVocabulary(first: Source, other: Source, opts: { mayBePrefix?: boolean } = {}): void {
  const a = readVocabulary(first.path);
  const b = readVocabulary(other.path);
  if (!a || !b) return;
  const n = opts.mayBePrefix ? Math.min(a.length, b.length) : Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      throw new StageInputError(`with.${other.label}: its tokenizer differs from ${first.label}'s at token id ${i} (${show(b[i])} vs ${show(a[i])}); models with different vocabularies cannot be merged`);
    }
  }
  if (opts.mayBePrefix && b.length > a.length) {
    throw new StageInputError(`with.${other.label}: its tokenizer has ${b.length} tokens, more than ${first.label}'s ${a.length}`);
  }
}

/** How `other` covers the first model's tensors: same names and shapes, or (allowed for a base) less. */
export interface Coverage {
  /** Tensors of the first model `other` lacks. */
  missing: string[];
  /** Tensors `other` has with fewer rows (a base without the added tokens' embeddings): name → its rows. */
  fewerRows: Map<string, number>;
}

export function checkTensors(first: Source, firstWeights: WeightsFile, other: Source, otherWeights: WeightsFile, opts: { partial?: boolean } = {}): Coverage {
  const coverage: Coverage = { missing: [], fewerRows: new Map() };
  for (const name of firstWeights.names()) {
    const want = firstWeights.shape(name);
    if (!otherWeights.has(name)) {
      if (opts.partial) { coverage.missing.push(name); continue; }
      throw new StageInputError(`with.${other.label}: ${otherWeights.file} has no tensor "${name}" (${first.label}'s has shape ${shape(want)})`);
    }
    const got = otherWeights.shape(name);
    const same = got.length === want.length && got.every((d, i) => d === want[i]);
    if (same) continue;
    const rowsOnly = opts.partial && got.length === want.length && got[0]! < want[0]! && got.slice(1).every((d, i) => d === want[i + 1]);
    if (rowsOnly) { coverage.fewerRows.set(name, got[0]!); continue; }
    throw new StageInputError(`with.${other.label}: tensor "${name}" has shape ${shape(got)} in ${otherWeights.file} but ${shape(want)} in ${first.label}'s`);
  }
  if (!opts.partial) {
    const extra = otherWeights.names().find((n) => !firstWeights.has(n));
    if (extra !== undefined) {
      throw new StageInputError(`with.${other.label}: ${otherWeights.file} has tensor "${extra}" (shape ${shape(otherWeights.shape(extra))}) that ${first.label} lacks`);
    }
  }
  return coverage;
}
