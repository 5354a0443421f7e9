// Parameter names and shapes of HF BertForSequenceClassification, in named_parameters() order.
import type { BertConfig } from './config.js';

export function parameterShapes(cfg: BertConfig): Map<string, number[]> {
  const H = cfg.hidden_size;
  const I = cfg.intermediate_size;
  const m = new Map<string, number[]>();
  m.set('bert.embeddings.word_embeddings.weight', [cfg.vocab_size, H]);
  m.set('bert.embeddings.position_embeddings.weight', [cfg.max_position_embeddings, H]);
  m.set('bert.embeddings.token_type_embeddings.weight', [cfg.type_vocab_size, H]);
  m.set('bert.embeddings.LayerNorm.weight', [H]);
  m.set('bert.embeddings.LayerNorm.bias', [H]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}`;
    for (const lin of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      m.set(`${p}.${lin}.weight`, [H, H]);
      m.set(`${p}.${lin}.bias`, [H]);
    }
    m.set(`${p}.attention.output.LayerNorm.weight`, [H]);
    m.set(`${p}.attention.output.LayerNorm.bias`, [H]);
    m.set(`${p}.intermediate.dense.weight`, [I, H]);
    m.set(`${p}.intermediate.dense.bias`, [I]);
    m.set(`${p}.output.dense.weight`, [H, I]);
    m.set(`${p}.output.dense.bias`, [H]);
    m.set(`${p}.output.LayerNorm.weight`, [H]);
    m.set(`${p}.output.LayerNorm.bias`, [H]);
  }
  m.set('bert.pooler.dense.weight', [H, H]);
  m.set('bert.pooler.dense.bias', [H]);
  m.set('classifier.weight', [cfg.num_labels, H]);
  m.set('classifier.bias', [cfg.num_labels]);
  return m;
}

/** How HF initialises a parameter in _init_weights. */
export function initKind(name: string): 'normal' | 'zeros' | 'ones' {
  if (name.includes('LayerNorm.weight')) return 'ones';
  if (name.endsWith('.bias')) return 'zeros';
  return 'normal';
}

export const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
