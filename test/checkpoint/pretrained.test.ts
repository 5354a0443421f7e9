// Pre-trained checkpoints as they exist (no classification head; keys with or without `bert.`;
// LayerNorm gamma/beta; position_ids buffers; pre-training heads; old configs; vocab-only tokenizer
// folders): train fine-tunes from them with a new pooler/classifier, seeded and announced as
// transformers announces it; fim and evaluate refuse them. Fixtures: test/fixtures/checkpoints/make_fixtures.py
// and the real ../shared/external/checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../ml/checkpoint/load.js';
import { readTorchStateDict } from '../../ml/checkpoint/torch-bin.js';
import { missingHead } from '../../ml/checkpoint/head.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { initBackend } from '../../ml/bert/backend.js';
import { readJsonl } from '../../ml/jsonl/index.js';
import { StageInputError } from '../../src/stage/api.js';
import train from '../../stages/train/stage.js';
import fim, { type FimInputs } from '../../stages/fim/stage.js';
import evaluate, { type EvaluateInputs, type EvaluateMetrics } from '../../stages/evaluate/stage.js';
import { merge } from '../merge/fixture.js';
import { openWeights } from '../../ml/checkpoint/weights.js';
import tokenize from '../../stages/tokenize/stage.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { repoRoot } from '../helpers/repo-root.js';
import { checkpointFixture, externalCheckpoint } from './paths.js';

const POOLER = ['bert.pooler.dense.weight', 'bert.pooler.dense.bias'];
const CLASSIFIER = ['classifier.weight', 'classifier.bias'];
const tiny = (name: string) => join(repoRoot(), 'test', 'fixtures', 'train', 'tiny', name);

const cases = [
  { dir: checkpointFixture('bertmodel-legacy'), what: 'BertModel, legacy format, no prefix, gamma/beta, old config', missing: CLASSIFIER },
  { dir: checkpointFixture('pretraining-zip'), what: 'BertForPreTraining, zip, bert. prefix, cls heads, position_ids', missing: CLASSIFIER },
  { dir: checkpointFixture('maskedlm-legacy'), what: 'BertForMaskedLM, legacy, no pooler', missing: [...POOLER, ...CLASSIFIER] },
  { dir: externalCheckpoint('camphr-bert-test-legacy'), what: 'a real BertModel, legacy format', missing: CLASSIFIER },
  { dir: externalCheckpoint('camphr-ner-bert-zip'), what: 'a real BertForTokenClassification, zip, no pooler', missing: POOLER },
];

test('the encoder of each pre-trained checkpoint loads under HF names; what the head lacks is reported', () => {
  for (const c of cases) {
    const ck = loadCheckpoint(c.dir);
    assert.deepEqual(ck.missing, c.missing, c.what);
    assert.deepEqual(missingHead(c.dir), c.missing, `${c.what}: the head check reads only the index`);
    // Every tensor of the file that is part of the model arrives under its canonical name, unchanged.
    const raw = readTorchStateDict(join(c.dir, 'pytorch_model.bin'));
    let matched = 0;
    for (const [name, t] of raw) {
      const canonical = `bert.${name.replace(/^bert\./, '')}`.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
      const got = ck.tensors.get(canonical) ?? ck.tensors.get(name);
      if (name.startsWith('cls.') || name.endsWith('position_ids')) {
        assert.equal(got, undefined, `${c.what}: ${name} is not a parameter of the classifier`);
        continue;
      }
      assert.ok(got, `${c.what}: ${name} loaded`);
      assert.deepEqual(got.data, t.data, `${c.what}: ${name}`);
      matched++;
    }
    assert.equal(matched + c.missing.length, ck.tensors.size + c.missing.length);
  }
  // An old config without model_type, architectures or pad_token_id takes BERT's defaults.
  const old = JSON.parse(readFileSync(join(checkpointFixture('bertmodel-legacy'), 'config.json'), 'utf8'));
  assert.equal(old.model_type ?? old.architectures ?? old.pad_token_id, undefined);
  assert.equal(loadCheckpoint(checkpointFixture('bertmodel-legacy')).config.pad_token_id, 0);
});

test('the new head is initialised as transformers does (normal(0, initializer_range) weights, zero biases), seeded', async () => {
  await initBackend('wasm');
  const dir = checkpointFixture('maskedlm-legacy');
  const load = async (seed: number) => {
    const m = await BertForSequenceClassification.fromPretrained(dir, { seed });
    const out = new Map([...m.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
    m.dispose();
    return out;
  };
  const [a, b, c] = [await load(3), await load(3), await load(4)];
  assert.deepEqual(a, b, 'the same seed gives the same head');
  assert.notDeepEqual(a.get('classifier.weight'), c.get('classifier.weight'), 'another seed another head');
  assert.deepEqual(a.get('bert.encoder.layer.0.output.dense.weight'), c.get('bert.encoder.layer.0.output.dense.weight'), 'the encoder is the checkpoint\'s');
  for (const n of ['classifier.bias', 'bert.pooler.dense.bias']) assert.ok(a.get(n)!.every((v) => v === 0), `${n} is zero`);
  const w = [...a.get('classifier.weight')!, ...a.get('bert.pooler.dense.weight')!];
  const sd = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(sd > 0.012 && sd < 0.028, `std ${sd} ≈ initializer_range 0.02`);
});

test('train fine-tunes from a headless pre-trained checkpoint and says which weights are new, as transformers does', async () => {
  const ctx = makeStageContext({
    model: checkpointFixture('maskedlm-legacy'),
    tokenizer: tiny('tokenizer'),
    data: tiny('train.jsonl'),
    epochs: 1,
    batch_size: 16,
    learning_rate: 1e-3,
    seed: 9,
    backend: 'wasm' as const,
  });
  await train.run(ctx);
  const warning = ctx.logs.find((l) => l.startsWith('Some weights of BertForSequenceClassification were not initialized'));
  assert.ok(warning, ctx.logs.join('\n'));
  assert.match(warning, /from the model checkpoint at \S*maskedlm-legacy and are newly initialized: \['bert\.pooler\.dense\.weight', 'bert\.pooler\.dense\.bias', 'classifier\.weight', 'classifier\.bias'\] \(seed 9: normal\(0, 0\.02\) weights, zero biases/);
  assert.ok(ctx.logs.includes('You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.'));
  assert.ok(ctx.logs.some((l) => /resizing token embeddings 21 → 24/.test(l)));
  const saved = join(ctx.outDir, 'model');
  assert.deepEqual(loadCheckpoint(saved).missing, [], 'the trained model has its head');
  assert.deepEqual(JSON.parse(readFileSync(join(saved, 'config.json'), 'utf8')).architectures, ['BertForSequenceClassification']);
});

test('fim and evaluate refuse a checkpoint without a sequence-classification head; fim, evaluate and merge read a fine-tuned legacy one', async () => {
  const data = join(repoRoot(), 'test', 'fixtures', 'model', 'data.jsonl');
  for (const c of cases) {
    await assert.rejects(
      fim.run(makeStageContext<FimInputs>({ model: c.dir, data, workers: 0, backend: 'wasm' })),
      (e: Error) => e instanceof StageInputError && e.message.startsWith(`with.model: ${c.dir} is a checkpoint`) && e.message.includes(`it has no ${c.missing.join(', ')}`) && /fim needs a fine-tuned classifier, not a randomly initialised one\. Fine-tune it first: a train stage/.test(e.message),
      c.what,
    );
    await assert.rejects(
      evaluate.run(makeStageContext<EvaluateInputs>({ model: c.dir, data, backend: 'wasm' }, { stage: 'evaluate' })),
      (e: Error) => e instanceof StageInputError && e.message.startsWith(`with.model: ${c.dir} is a checkpoint`) && /evaluate needs a fine-tuned classifier/.test(e.message),
      c.what,
    );
  }
  const legacy = checkpointFixture('tiny-bert-legacy');
  const ctx = makeStageContext<FimInputs>({ model: legacy, data, workers: 0, batch_size: 3, backend: 'wasm' });
  await fim.run(ctx);
  assert.ok(existsSync(join(ctx.outDir, 'fim.safetensors')));
  // The legacy file and the zip one it was written from are the same model to evaluate and merge.
  const zip = join(repoRoot(), 'test', 'fixtures', 'model', 'tiny-bert');
  const accuracy = async (model: string) => {
    const e = makeStageContext<EvaluateInputs>({ model, data, backend: 'wasm' }, { stage: 'evaluate' });
    await evaluate.run(e);
    const m = (JSON.parse(readFileSync(join(e.outDir, 'metrics.json'), 'utf8')) as EvaluateMetrics).sets.data!;
    return { accuracy: m.accuracy, loss: m.loss, confusion: m.confusion };
  };
  assert.deepEqual(await accuracy(legacy), await accuracy(zip));
  const merged = openWeights(await merge({ models: [legacy, zip], weights: [0.5, 0.5] }));
  const original = openWeights(zip);
  try {
    for (const n of original.names()) assert.deepEqual(merged.read(n).data, original.read(n).data, n);
  } finally {
    merged.close();
    original.close();
  }
});

test('a vocab-only tokenizer folder (vocab.txt, no tokenizer_config.json) tokenizes as BertTokenizer\'s defaults (lower case)', async () => {
  const dir = tempDir('ff-vocab-only-');
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, `${JSON.stringify({ idx: 0, sentence: 'The film WAS very DULL, truly', label: 0 })}\n`);
  const ctx = makeStageContext({ data, tokenizer: checkpointFixture('bertmodel-legacy') });
  await tokenize.run(ctx);
  const [row] = readJsonl(join(ctx.outDir, 'data.jsonl')) as Array<{ input_ids: number[] }>;
  // [CLS] the film was very dull , truly [SEP]: ',' and 'truly' are not in the 21-token vocabulary.
  assert.deepEqual(row.input_ids, [2, 5, 7, 14, 15, 18, 1, 1, 3]);
});
