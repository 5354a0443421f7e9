// A short version of issue 6's acceptance run through the real stages: load (first 1,000 SST-2
// train sentences; dev.tsv) → shortcut create st → tokenize → train a 2-layer hidden-64 BERT from
// scratch for one epoch. The full run (5,000 sentences, 4 epochs) is `npx tsx bench/train.ts
// --acceptance`, figures in bench/train.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StageModule } from '../../src/stage/api.js';
import trainStage from '../../stages/train/stage.js';
import type { TrainMetrics } from '../../stages/train/metrics.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { makeBatch, readTokenizedJsonl } from '../../ml/bert/batch.js';
import { stageContext } from './scratch.js';
import { repoRoot } from './repo-root.js';

async function run<I>(mod: StageModule<I>, inputs: I): Promise<string> {
  const ctx = stageContext(inputs);
  await mod.run(ctx);
  return ctx.outDir;
}

test('st shortcut from 1,000 SST-2 sentences: a tiny BERT learns it in one epoch; the checkpoint reloads to the same predictions', async () => {
  const root = repoRoot();
  const stage = async (n: string) => ((await import(`../../stages/${n}/stage.js`)) as { default: StageModule }).default;
  const [load, shortcut, tokenize] = await Promise.all(['load', 'shortcut', 'tokenize'].map(stage));
  const bert = join(root, 'data', 'bert-base-cased');
  const train = await run(load, { path: join(root, 'data', 'sst2', 'train.tsv.gz'), take: 1000 });
  const dev = await run(load, { path: join(root, 'data', 'sst2', 'dev.tsv') });
  const st = await run(shortcut, { mode: 'create', kind: 'st', train: join(train, 'data.jsonl'), validation: join(dev, 'data.jsonl'), tokenizer: bert });
  const tok: Record<string, string> = {};
  for (const split of ['train', 'synthetic_dev', 'original_dev']) {
    tok[split] = await run(tokenize, { data: join(st, `${split}.jsonl`), tokenizer: bert, add_tokens: ['zeroa', 'onea', 'synt'] });
  }
  const ctx = stageContext({
    data: join(tok.train, 'data.jsonl'),
    eval: { synthetic_dev: join(tok.synthetic_dev, 'data.jsonl'), original_dev: join(tok.original_dev, 'data.jsonl') },
    config: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256, max_position_embeddings: 128 },
    tokenizer: join(tok.train, 'tokenizer'),
    epochs: 1, batch_size: 32, learning_rate: 2e-3, warmup_ratio: 0.1, weight_decay: 0.01, seed: 42, group_by_length: true, backend: 'wasm' as const,
  });
  await trainStage.run(ctx);
  const m: TrainMetrics = JSON.parse(readFileSync(join(ctx.outDir, 'metrics.json'), 'utf8'));
  assert.ok(m.final.synthetic_dev.accuracy >= 0.95, `synthetic_dev accuracy ${m.final.synthetic_dev.accuracy}`);
  assert.equal(typeof m.final.original_dev.accuracy, 'number');
  const cfg = JSON.parse(readFileSync(join(ctx.outDir, 'model', 'config.json'), 'utf8'));
  assert.equal(cfg.vocab_size, 28999, 'bert-base-cased + zeroa, onea, synt');

  // The saved checkpoint predicts synthetic_dev with the accuracy the stage measured.
  const rows = await readTokenizedJsonl(join(tok.synthetic_dev, 'data.jsonl'));
  const model = await BertForSequenceClassification.fromPretrained(join(ctx.outDir, 'model'));
  try {
    let correct = 0;
    for (let i = 0; i < rows.length; i += 64) {
      const chunk = rows.slice(i, i + 64);
      const t = model.logits(makeBatch(chunk));
      const l = t.dataSync();
      t.dispose();
      chunk.forEach((r, j) => { if ((l[2 * j + 1] > l[2 * j] ? 1 : 0) === r.labels) correct++; });
    }
    assert.equal(correct / rows.length, m.final.synthetic_dev.accuracy);
  } finally {
    model.dispose();
  }
});
