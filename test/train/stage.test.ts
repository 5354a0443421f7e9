// The train stage end to end with the real BERT (ml/bert) on the tiny fixtures
// (test/fixtures/train/tiny, made by make_tiny_data.py): outputs, metrics.json, reload to
// identical logits, determinism, resume through the stage, and readable input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import stage from '../../stages/train/stage.js';
import { settingsFrom, type TrainInputs } from '../../stages/train/inputs.js';
import type { TrainMetrics } from '../../stages/train/metrics.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { makeBatch, readTokenizedJsonl } from '../../ml/bert/batch.js';
import { StageInputError } from '../../src/stage/api.js';
import { scratchDir, stageContext } from './scratch.js';
import { tinyPath } from './tiny-data.js';

const CONFIG = { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 32 };
const base: TrainInputs = {
  data: tinyPath('train.jsonl'),
  eval: { dev: tinyPath('dev.jsonl') },
  config: CONFIG,
  tokenizer: tinyPath('tokenizer'),
  epochs: 3,
  batch_size: 8,
  learning_rate: 1e-2,
  warmup_ratio: 0.1,
  weight_decay: 0.01,
  seed: 5,
  logging_steps: 4,
  backend: 'wasm',
};

const stripTimes = (m: TrainMetrics) => m.epochs.map(({ seconds, examples_per_second, eval_seconds, ...rest }) => rest);
const readMetrics = (outDir: string): TrainMetrics => JSON.parse(readFileSync(join(outDir, 'metrics.json'), 'utf8'));

test('trains a tiny BERT from a config: HF checkpoint, metrics.json, loss decreases, reload gives identical logits', async () => {
  const ctx = stageContext({ ...base, epochs: 4 }, { stage: 'train@tiny' });
  await stage.run(ctx);
  const dir = join(ctx.outDir, 'model');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt', 'added_tokens.json']) assert.ok(existsSync(join(dir, f)), f);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.vocab_size, 24, 'vocab size from the tokenizer, added tokens included');
  assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);

  const m = readMetrics(ctx.outDir);
  assert.equal(m.epochs.length, 4);
  for (const e of m.epochs) {
    for (const k of ['epoch', 'step', 'train_loss', 'learning_rate', 'seconds', 'examples_per_second'] as const) assert.equal(typeof e[k], 'number', k);
    assert.equal(typeof e.eval.dev.accuracy, 'number');
    assert.equal(typeof e.eval.dev.loss, 'number');
  }
  assert.deepEqual(m.final, m.epochs[3].eval);
  assert.ok(m.epochs[3].train_loss < m.epochs[0].train_loss - 0.2, `train loss ${m.epochs.map((e) => e.train_loss)}`);
  assert.ok(m.final.dev.accuracy >= 0.9, `dev accuracy ${m.final.dev.accuracy}`);
  assert.ok(m.curve.length > 0 && m.curve.every((p) => typeof p.step === 'number' && typeof p.loss === 'number'));
  // The note says the epoch and the loss; the display adds the one rate and ETA (see test/exec/display.test.ts).
  assert.ok(ctx.progressEvents.length > 0);
  for (const p of ctx.progressEvents) assert.match(p.note ?? '', /^epoch \d\/4 · loss \d+\.\d{4}$/);
  assert.ok(ctx.logs.some((l) => /^epoch 4\/4: .*dev accuracy/.test(l)));

  // Reload: same logits as the metrics' model (the final eval) — recompute and compare exactly.
  const dev = await readTokenizedJsonl(tinyPath('dev.jsonl'));
  const model = await BertForSequenceClassification.fromPretrained(dir);
  try {
    const logits = model.logits(makeBatch(dev));
    const data = logits.dataSync();
    logits.dispose();
    let correct = 0;
    dev.forEach((r, i) => { if ((data[2 * i + 1] > data[2 * i] ? 1 : 0) === r.labels) correct++; });
    assert.equal(correct / dev.length, m.final.dev.accuracy);
    // Save again and reload: bit-identical logits.
    const again = join(scratchDir('ff-train-resave-'), 'model');
    await model.save(again);
    const first = Array.from(data);
    model.dispose();
    const reloaded = await BertForSequenceClassification.fromPretrained(again);
    const l2 = reloaded.logits(makeBatch(dev));
    assert.deepEqual(Array.from(l2.dataSync()), first);
    l2.dispose();
    reloaded.dispose();
  } finally {
    model.dispose();
  }
});

test('a fixed seed gives the same weights and metrics; max_length padding trains too', async () => {
  const a = stageContext({ ...base, epochs: 1 });
  const b = stageContext({ ...base, epochs: 1 });
  await stage.run(a);
  await stage.run(b);
  assert.deepEqual(readFileSync(join(a.outDir, 'model', 'model.safetensors')), readFileSync(join(b.outDir, 'model', 'model.safetensors')));
  assert.deepEqual(stripTimes(readMetrics(a.outDir)), stripTimes(readMetrics(b.outDir)));
  const c = stageContext({ ...base, epochs: 1, padding: 'max_length' as const, max_length: 20 });
  await stage.run(c);
  // Padding changes nothing in the maths but the summation shapes: close, not necessarily equal.
  const la = readMetrics(a.outDir).epochs[0].train_loss;
  const lc = readMetrics(c.outDir).epochs[0].train_loss;
  assert.ok(Math.abs(la - lc) < 1e-3, `${la} vs ${lc}`);
});

test('an interrupted stage run resumes from its epoch checkpoint in workDir', async () => {
  const workDir = scratchDir('ff-train-work-');
  const ac = new AbortController();
  const first = stageContext({ ...base, epochs: 2 }, { workDir, signal: ac.signal });
  first.progress = (done) => { if (done > 96) setImmediate(() => ac.abort()); }; // an event, like the worker's abort message
  await assert.rejects(stage.run(first), (e: Error) => e.name === 'AbortError');
  assert.ok(existsSync(join(workDir, 'checkpoints', 'epoch-1', 'model.safetensors')));
  const second = stageContext({ ...base, epochs: 2 }, { workDir });
  await stage.run(second);
  assert.ok(second.logs.some((l) => /resuming from .*epoch-1.*1 of 2 epochs/.test(l)), second.logs.join('\n'));
  const straight = stageContext({ ...base, epochs: 2 });
  await stage.run(straight);
  assert.deepEqual(stripTimes(readMetrics(second.outDir)), stripTimes(readMetrics(straight.outDir)));
  assert.deepEqual(readFileSync(join(second.outDir, 'model', 'model.safetensors')), readFileSync(join(straight.outDir, 'model', 'model.safetensors')));
});

test('fine-tunes from a checkpoint folder, growing the embeddings to the tokenizer\'s added tokens', async () => {
  const pre = join(scratchDir('ff-train-pre-'), 'base');
  const m0 = BertForSequenceClassification.fromConfig({ ...CONFIG, vocab_size: 21 }, 9); // vocabulary without the 3 added tokens
  await m0.save(pre);
  m0.dispose();
  const ctx = stageContext({ ...base, config: undefined, model: pre, epochs: 1 });
  await stage.run(ctx);
  assert.ok(ctx.logs.some((l) => /resizing token embeddings 21 → 24/.test(l)), ctx.logs.join('\n'));
  const cfg = JSON.parse(readFileSync(join(ctx.outDir, 'model', 'config.json'), 'utf8'));
  assert.equal(cfg.vocab_size, 24);
  assert.equal(cfg.hidden_size, 16);
  assert.equal(readMetrics(ctx.outDir).epochs.length, 1);
});

test('inputs resolve to HF Trainer defaults and the paper\'s recipe', () => {
  const d = settingsFrom({ data: 'x', config: {} }, 0);
  assert.deepEqual(
    { epochs: d.epochs, batchSize: d.batchSize, evalBatchSize: d.evalBatchSize, lr: d.learningRate, wd: d.weightDecay, warmup: [d.warmupSteps, d.warmupRatio], clip: d.maxGradNorm, seed: d.seed, padTo: d.padTo, betas: d.adamBetas, eps: d.adamEpsilon, group: d.groupByLength },
    { epochs: 2, batchSize: 16, evalBatchSize: 16, lr: 2e-5, wd: 0, warmup: [0, 0], clip: 1, seed: 42, padTo: undefined, betas: [0.9, 0.999], eps: 1e-8, group: false },
  );
  const s = settingsFrom({ data: 'x', config: {}, padding: 'max_length', max_length: 64, group_by_length: true, batch_size: 8, eval_batch_size: 64 }, 3);
  assert.equal(s.padTo, 64);
  assert.equal(s.padId, 3);
  assert.equal(s.groupByLength, true);
  assert.equal(s.evalBatchSize, 64);
});

test('bad inputs are StageInputErrors naming the input, file, row and column', async () => {
  assert.deepEqual(stage.check!({ data: 'x' }), ['with.model: give a checkpoint folder to fine-tune, or with.config to train from scratch']);
  assert.equal(stage.check!({ data: 'x', model: 'm', config: {} }).length, 1);
  assert.equal(stage.check!({ data: 'x', config: {} }).length, 1, 'vocab_size needed without a tokenizer');

  const dir = scratchDir('ff-train-bad-');
  const rows = readFileSync(tinyPath('train.jsonl'), 'utf8').trim().split('\n');
  const badLabel = join(dir, 'label.jsonl');
  writeFileSync(badLabel, [rows[0], rows[1].replace('"labels": 1', '"labels": 7')].join('\n'));
  await assert.rejects(stage.run(stageContext({ ...base, data: badLabel })),
    (e: Error) => e instanceof StageInputError && /with\.data: .*label\.jsonl: row 2, column labels: expected a class id 0\.\.1, got 7/.test(e.message));
  const badId = join(dir, 'id.jsonl');
  writeFileSync(badId, rows[0].replace('"input_ids": [2, ', '"input_ids": [2, 99, ').replace('"token_type_ids": [0, ', '"token_type_ids": [0, 0, ').replace('"attention_mask": [1, ', '"attention_mask": [1, 1, '));
  await assert.rejects(stage.run(stageContext({ ...base, eval: { dev: badId } })),
    (e: Error) => e instanceof StageInputError && /with\.eval\.dev: .*id\.jsonl: row 1, column input_ids: token id 99 is outside the model's vocabulary \(vocab_size 24\)/.test(e.message));
  await assert.rejects(stage.run(stageContext({ ...base, padding: 'max_length' as const, max_length: 8 })),
    (e: Error) => e instanceof StageInputError && /longer than max_length 8/.test(e.message));
  await assert.rejects(stage.run(stageContext({ ...base, config: undefined, model: dir })),
    (e: Error) => e instanceof StageInputError && /with\.model: .* has no config\.json/.test(e.message));
  assert.equal(tf.memory().numTensors >= 0, true);
});
