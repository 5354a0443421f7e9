// BERT in TensorFlow.js against PyTorch: the fixtures in test/fixtures/model were made by
// make_fixtures.py there (a standalone PyTorch BertForSequenceClassification mirroring HF's
// modelling code, Debian python3-torch 1.13), from a tiny random checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { fixtureDir } from './paths.js';
import { initBackend } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { makeBatch, readTokenizedJsonl } from '../../ml/bert/batch.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { readTorchStateDict } from '../../ml/checkpoint/torch-bin.js';
import { tempDir } from '../helpers/stage-context.js';
import { checkLogitsAndGrads } from './pytorch-reference.js';
import { assertClose, maxAbsAll } from './close.js';
import { denseValues, disposeGradients, isRowSparse } from '../../ml/optim/gradient.js';

const dir = () => join(fixtureDir(), 'tiny-bert');
const ref = () => SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));

test('pytorch_model.bin (zip + pickle) and model.safetensors hold identical tensors', () => {
  const bin = readTorchStateDict(join(dir(), 'pytorch_model.bin'));
  const st = SafetensorsFile.open(join(dir(), 'model.safetensors'));
  try {
    assert.ok(bin.has('bert.embeddings.position_ids'), 'the int64 buffer is read too');
    for (const name of st.names()) {
      const a = bin.get(name);
      assert.ok(a, `${name} in pytorch_model.bin`);
      assert.deepEqual(a.shape, st.info(name).shape);
      assert.deepEqual(a.data, st.readFloat32(name), name);
    }
  } finally { st.close(); }
});

test('eval-mode logits and padded-batch loss and gradients equal PyTorch (wasm)', async () => {
  await checkLogitsAndGrads('wasm');
});

test('row-sparse word-embedding gradients (sparseEmbeddingGrads) hold exactly the dense gradient\'s nonzero rows', async () => {
  await initBackend('wasm');
  const rows = await readTokenizedJsonl(join(fixtureDir(), 'data.jsonl'));
  const model = await BertForSequenceClassification.fromPretrained(dir());
  try {
    const batch = makeBatch(rows);
    const dense = await model.lossAndGrads(batch);
    const sparse = await model.lossAndGrads(batch, { sparseEmbeddingGrads: true });
    assert.equal(sparse.loss, dense.loss);
    const name = 'bert.embeddings.word_embeddings.weight';
    const d = dense.grads.get(name)!.dataSync();
    const s = sparse.grads.get(name)!;
    assert.ok(isRowSparse(s));
    const ids = [...new Set(batch.inputIds)].filter((id) => id !== model.config.pad_token_id).sort((a, b) => a - b);
    assert.deepEqual([...s.rows], ids, 'the batch\'s token ids, padding excluded, ascending');
    assert.deepEqual(denseValues(s), d, 'the same values, zero elsewhere');
    for (const [n, g] of dense.grads) if (n !== name) assert.deepEqual((sparse.grads.get(n) as tf.Tensor).dataSync(), g.dataSync(), n);
    for (const g of dense.grads.values()) g.dispose();
    disposeGradients(sparse.grads);
  } finally { model.dispose(); }
});

test('the embedding sum read from the wasm heap equals tfjs gather + add on the cpu backend, bit for bit', async () => {
  const rows = await readTokenizedJsonl(join(fixtureDir(), 'data.jsonl'));
  const batch = makeBatch(rows);
  const sumOn = async (backend: 'wasm' | 'cpu') => {
    await initBackend(backend);
    const model = await BertForSequenceClassification.fromPretrained(dir());
    try {
      const e = model.embeddingSum(batch);
      const bytes = Buffer.from((e.dataSync() as Float32Array).buffer.slice(0));
      e.dispose();
      return bytes;
    } finally { model.dispose(); }
  };
  const wasm = await sumOn('wasm');
  const cpu = await sumOn('cpu');
  await initBackend('wasm');
  assert.ok(wasm.equals(cpu));
});

test('save() writes config.json + model.safetensors that load back identically, with tokenizer files', async () => {
  await initBackend('wasm');
  const model = await BertForSequenceClassification.fromPretrained(dir());
  const out = join(tempDir(), 'ck');
  try {
    const tokDir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(tokDir, 'tokenizer.json'), '{}');
    await model.save(out, { tokenizerDir: tokDir });
    assert.ok(existsSync(join(out, 'tokenizer.json')));
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
    const f = SafetensorsFile.open(join(out, 'model.safetensors'));
    assert.equal(f.metadata.format, 'pt');
    const again = await BertForSequenceClassification.fromPretrained(out);
    for (const [name, v] of model.params) assert.deepEqual(again.params.get(name)!.dataSync(), v.dataSync(), name);
    f.close();
    again.dispose();
  } finally { model.dispose(); }
});

test('resizeTokenEmbeddings keeps old rows and adds rows for added tokens', async () => {
  await initBackend('wasm');
  const model = await BertForSequenceClassification.fromPretrained(dir(), { vocabSize: 105, seed: 3 });
  try {
    const w = model.params.get('bert.embeddings.word_embeddings.weight')!;
    assert.deepEqual(w.shape, [105, 32]);
    assert.equal(model.config.vocab_size, 105);
    const st = SafetensorsFile.open(join(dir(), 'model.safetensors'));
    const old = st.readFloat32('bert.embeddings.word_embeddings.weight');
    st.close();
    const now = w.dataSync();
    assert.deepEqual(now.subarray(0, old.length), old);
    const extra = now.subarray(old.length);
    assert.ok(extra.some((x) => x !== 0) && extra.every((x) => Math.abs(x) < 0.2), 'new rows ~ normal(0, 0.02)');
  } finally { model.dispose(); }
});

test('fromConfig follows HF init: zero biases, LayerNorm 1/0, zero padding row, seeded', async () => {
  await initBackend('wasm');
  const cfg = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 20, max_position_embeddings: 20 };
  const a = BertForSequenceClassification.fromConfig(cfg, 5);
  const b = BertForSequenceClassification.fromConfig(cfg, 5);
  try {
    assert.deepEqual(a.params.get('bert.encoder.layer.0.attention.self.query.weight')!.dataSync(), b.params.get('bert.encoder.layer.0.attention.self.query.weight')!.dataSync());
    assert.ok(a.params.get('classifier.bias')!.dataSync().every((x) => x === 0));
    assert.ok(a.params.get('bert.embeddings.LayerNorm.weight')!.dataSync().every((x) => x === 1));
    assert.ok(a.params.get('bert.embeddings.word_embeddings.weight')!.dataSync().subarray(0, 16).every((x) => x === 0));
    // training mode: dropout changes the logits, and a seed makes them repeatable.
    const batch = makeBatch([{ input_ids: [1, 2, 3, 4], labels: 1 }]);
    const ev = a.logits(batch).dataSync();
    const t1 = a.logits(batch, { training: true, seed: 9 }).dataSync();
    const t2 = a.logits(batch, { training: true, seed: 9 }).dataSync();
    assert.deepEqual(t1, t2);
    assert.notDeepEqual(t1, ev);
  } finally { a.dispose(); b.dispose(); }
});

test('checkpoint errors name the file and what was expected', async () => {
  const { mkdirSync, writeFileSync, cpSync } = await import('node:fs');
  const { StageInputError } = await import('../../src/stage/api.js');
  const base = tempDir();
  const is = (re: RegExp) => (e: Error) => e instanceof StageInputError && re.test(e.message);
  await assert.rejects(BertForSequenceClassification.fromPretrained(join(base, 'missing')), is(/does not exist/));
  mkdirSync(join(base, 'empty'));
  await assert.rejects(BertForSequenceClassification.fromPretrained(join(base, 'empty')), is(/no config\.json/));
  const gpt = join(base, 'gpt');
  mkdirSync(gpt);
  writeFileSync(join(gpt, 'config.json'), JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }));
  await assert.rejects(BertForSequenceClassification.fromPretrained(gpt), is(/config\.json: model_type "gpt2" is not supported/));
  const noWeights = join(base, 'noweights');
  mkdirSync(noWeights);
  cpSync(join(dir(), 'config.json'), join(noWeights, 'config.json'));
  await assert.rejects(BertForSequenceClassification.fromPretrained(noWeights), is(/no model\.safetensors or pytorch_model\.bin/));
  // config.json that does not match the weights
  const wrong = join(base, 'wrong');
  cpSync(dir(), wrong, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(wrong, 'config.json'), 'utf8'));
  writeFileSync(join(wrong, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 40 }));
  await assert.rejects(BertForSequenceClassification.fromPretrained(wrong), is(/model\.safetensors: tensor "bert\.encoder\.layer\.0\.intermediate\.dense\.weight" has shape \[37, 32\] but config\.json implies \[40, 32\]/));
  const { rmSync } = await import('node:fs');
  rmSync(join(wrong, 'model.safetensors'));
  await assert.rejects(BertForSequenceClassification.fromPretrained(wrong), is(/pytorch_model\.bin: tensor .* has shape/));
  writeFileSync(join(wrong, 'pytorch_model.bin'), 'not a zip');
  await assert.rejects(BertForSequenceClassification.fromPretrained(wrong), is(/pytorch_model\.bin: not a PyTorch checkpoint \(neither the zip format of torch >= 1\.6 nor the legacy pickle format\)/));
});

test('a base-model checkpoint (BertModel keys, no classifier) loads with a fresh head', async () => {
  await initBackend('wasm');
  const { writeSafetensors } = await import('../../ml/safetensors/format.js');
  const { mkdirSync, cpSync } = await import('node:fs');
  const out = join(tempDir(), 'base');
  mkdirSync(out);
  cpSync(join(dir(), 'config.json'), join(out, 'config.json'));
  const st = SafetensorsFile.open(join(dir(), 'model.safetensors'));
  const tensors = st.names().filter((n) => n.startsWith('bert.')).map((n) => ({
    name: n.slice(5).replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
    shape: st.info(n).shape, data: st.readFloat32(n),
  }));
  st.close();
  writeSafetensors(join(out, 'model.safetensors'), tensors);
  const m = await BertForSequenceClassification.fromPretrained(out, { seed: 1 });
  try {
    assert.deepEqual(m.source.initialised, ['classifier.weight', 'classifier.bias']);
    assert.equal(m.params.get('bert.encoder.layer.1.output.LayerNorm.weight')!.shape[0], 32);
  } finally { m.dispose(); }
});
