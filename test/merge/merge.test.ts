// The merge stage against its definitions and against PyTorch: identities that must hold bit for
// bit, the float64 reference computed by test/fixtures/fusion/make_fixtures.py, the upstream
// fuse_models in float32, and the output folder's contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../../ml/safetensors/format.js';
import { tempDir } from '../helpers/stage-context.js';
import { openWeights } from '../../ml/checkpoint/weights.js';
import { fixture, maxUlps, merge, readTensors, reference } from './fixture.js';

const A = fixture('a');
const B = fixture('b'); // pytorch_model.bin
const C = fixture('c');

function weightsOf(dir: string): Map<string, Float32Array> {
  const w = openWeights(dir);
  try {
    return new Map(w.names().map((n) => [n, w.read(n).data]));
  } finally { w.close(); }
}

function assertBitEqual(got: Map<string, { data: Float32Array }>, want: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${what}: tensor names`);
  for (const [n, t] of got) assert.equal(maxUlps(t.data, want.get(n)!), 0, `${what}: ${n} differs`);
}

test('average of identical models is the model, bit for bit (safetensors and pytorch_model.bin inputs)', async () => {
  for (const dir of [A, B]) {
    const out = await merge({ models: [dir, dir, dir] });
    assertBitEqual(readTensors(join(out, 'model.safetensors')), weightsOf(dir), dir);
  }
});

test('weights [1, 0] give the first model and [0, 1] the second, bit for bit', async () => {
  assertBitEqual(readTensors(join(await merge({ models: [A, B], weights: [1, 0] }), 'model.safetensors')), weightsOf(A), '[1, 0]');
  assertBitEqual(readTensors(join(await merge({ models: { a: A, b: B }, weights: { a: 0, b: 1 } }), 'model.safetensors')), weightsOf(B), '[0, 1]');
});

test('fisher with equal Fishers equals average (to one float32 rounding)', async () => {
  const fim = fixture('fim-a.safetensors');
  const fisher = readTensors(join(await merge({ method: 'fisher', models: [A, B, C], fishers: [fim, fim, fim] }), 'model.safetensors'));
  const average = readTensors(join(await merge({ models: [A, B, C] }), 'model.safetensors'));
  let exact = 0;
  let total = 0;
  for (const [n, t] of fisher) {
    assert.ok(maxUlps(t.data, average.get(n)!.data) <= 1, n);
    const avg = average.get(n)!.data;
    t.data.forEach((v, i) => { total++; if (v === avg[i]) exact++; });
  }
  assert.ok(exact / total > 0.9, `${exact} of ${total} bit-identical`);
});

test('task arithmetic with λ = 0 is the base, bit for bit', async () => {
  const out = await merge({ method: 'task_arithmetic', models: [A, B, C], base: fixture('base'), scaling: 0 });
  assertBitEqual(readTensors(join(out, 'model.safetensors')), weightsOf(fixture('base')), 'λ = 0');
});

test('each method equals the float64 reference computed with PyTorch, bit for bit, in chunks of any size', async () => {
  const fishers = [fixture('fim-a.safetensors'), fixture('fim-b.safetensors'), fixture('fim-c.safetensors')];
  const cases = [
    { ref: 'average', inputs: { models: [A, B, C] } },
    { ref: 'fisher', inputs: { method: 'fisher' as const, models: [A, B, C], fishers } },
    { ref: 'task_arithmetic', inputs: { method: 'task_arithmetic' as const, models: [A, B, C], base: fixture('base'), scaling: 0.5 } },
    { ref: 'interpolation', inputs: { models: [A, B], weights: [0.7, 0.3] } },
  ];
  for (const c of cases) {
    for (const chunk of [undefined, 7]) {
      assertBitEqual(readTensors(join(await merge(c.inputs, chunk), 'model.safetensors')), reference(c.ref), `${c.ref} (chunk ${chunk ?? 'default'})`);
    }
  }
  // normalize_fishers divides by each Fisher's L2 norm, a sum whose order differs from torch's.
  const norm = readTensors(join(await merge({ method: 'fisher', models: [A, B, C], fishers, normalize_fishers: true }), 'model.safetensors'));
  for (const [n, want] of reference('fisher_normalized')) assert.ok(maxUlps(norm.get(n)!.data, want) <= 2, n);
});

test('average and interpolation agree with the upstream fuse_models and θ₁ + α(θ₂ − θ₁) in float32 to a few ulps', async () => {
  // The float32 sums differ from ours by roundings of the operands: a few 2⁻²⁴ of their size.
  const [wa, wb, wc] = [weightsOf(A), weightsOf(B), weightsOf(C)];
  const close = (got: Float32Array, want: Float32Array, scale: (i: number) => number, what: string) =>
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 4 * 2 ** -24 * scale(i), `${what}[${i}]: ${v} vs ${want[i]}`));
  const avg = readTensors(join(await merge({ models: [A, B, C] }), 'model.safetensors'));
  for (const [n, want] of reference('average_upstream')) {
    close(avg.get(n)!.data, want, (i) => Math.abs(wa.get(n)![i]!) + Math.abs(wb.get(n)![i]!) + Math.abs(wc.get(n)![i]!), n);
  }
  const interp = readTensors(join(await merge({ models: [A, B], weights: [0.7, 0.3] }), 'model.safetensors'));
  for (const [n, want] of reference('interpolation_upstream')) {
    close(interp.get(n)!.data, want, (i) => Math.abs(wa.get(n)![i]!) + Math.abs(wb.get(n)![i]!), n);
  }
});

test('the output folder: first model\'s config and tokenizer, safetensors HF can load, merge.json', async () => {
  const out = await merge({ models: { a: A, b: B }, weights: { a: 0.25, b: 0.75 } });
  assert.equal(readFileSync(join(out, 'config.json'), 'utf8'), readFileSync(join(A, 'config.json'), 'utf8'));
  assert.equal(readFileSync(join(out, 'vocab.txt'), 'utf8'), readFileSync(join(A, 'vocab.txt'), 'utf8'));
  const f = SafetensorsFile.open(join(out, 'model.safetensors'));
  assert.deepEqual(f.metadata, { format: 'pt', fisherflow: 'merge', method: 'average' });
  assert.ok(f.names().every((n) => f.info(n).dtype === 'F32'));
  f.close();
  const record = JSON.parse(readFileSync(join(out, 'merge.json'), 'utf8'));
  assert.equal(record.method, 'average');
  assert.deepEqual(record.weights, [0.25, 0.75]);
  assert.deepEqual(record.models, [{ name: 'a', path: A }, { name: 'b', path: B }]);
  assert.equal(record.tensors, 41);
  assert.equal(record.parameters, 5619);
});

test('task arithmetic from a base without the head and without the added tokens: the models\' average there', async () => {
  // The paper's setting: bert-base-cased (no classifier, 28,996 tokens) fine-tuned with 3 added tokens.
  const base = join(tempDir('ff-base-'), 'base');
  cpSync(fixture('base'), base, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));
  writeFileSync(join(base, 'config.json'), JSON.stringify({ ...cfg, vocab_size: 45 }));
  writeFileSync(join(base, 'vocab.txt'), readFileSync(join(base, 'vocab.txt'), 'utf8').split('\n').slice(0, 45).join('\n') + '\n');
  const tensors = readTensors(join(base, 'model.safetensors'));
  const emb = tensors.get('bert.embeddings.word_embeddings.weight')!;
  tensors.set('bert.embeddings.word_embeddings.weight', { shape: [45, 16], data: emb.data.slice(0, 45 * 16) });
  tensors.delete('classifier.weight');
  tensors.delete('classifier.bias');
  writeSafetensors(join(base, 'model.safetensors'), [...tensors].map(([name, t]) => ({ name, ...t })), { format: 'pt' });

  const out = await merge({ method: 'task_arithmetic', models: [A, B, C], base, scaling: 0.5 }, 100);
  const got = readTensors(join(out, 'model.safetensors'));
  const ta = reference('task_arithmetic');
  const avg = reference('average');
  for (const [n, t] of got) {
    const covered = n.startsWith('classifier.') ? 0 : n === 'bert.embeddings.word_embeddings.weight' ? 45 * 16 : t.data.length;
    assert.equal(maxUlps(t.data.subarray(0, covered), ta.get(n)!.subarray(0, covered)), 0, `${n}: task arithmetic where the base has it`);
    assert.equal(maxUlps(t.data.subarray(covered), avg.get(n)!.subarray(covered)), 0, `${n}: the average elsewhere`);
  }
  const record = JSON.parse(readFileSync(join(out, 'merge.json'), 'utf8'));
  assert.deepEqual(record.base.lacks, ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(record.base.fewer_rows, { 'bert.embeddings.word_embeddings.weight': 45 });
  assert.equal(record.scaling, 0.5);
});
