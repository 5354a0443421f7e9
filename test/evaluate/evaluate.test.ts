// The evaluate stage against PyTorch: logits, per-row loss, accuracy, mean loss, per-class
// accuracy and confusion matrix of fixture model a on data.jsonl (test/fixtures/fusion,
// make_fixtures.py), whatever the batching and padding; and its input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from '../../src/stage/api.js';
import { writeSafetensors } from '../../ml/safetensors/format.js';
import stage, { type EvaluateInputs, type EvaluateMetrics } from '../../stages/evaluate/stage.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fixture, readTensors } from '../merge/fixture.js';

const DATA = fixture('data.jsonl');

async function evaluate(inputs: EvaluateInputs): Promise<{ metrics: EvaluateMetrics; outDir: string }> {
  const ctx = makeStageContext(inputs, { stage: 'evaluate' });
  await stage.run(ctx);
  return { metrics: JSON.parse(readFileSync(join(ctx.outDir, 'metrics.json'), 'utf8')), outDir: ctx.outDir };
}

test('metrics and predictions match PyTorch, for any batch size and padding', async () => {
  const want = JSON.parse(readFileSync(fixture('evaluate.json'), 'utf8'));
  const ref = readTensors(fixture('reference.safetensors'));
  const logits = ref.get('evaluate.logits')!.data;
  const losses = ref.get('evaluate.loss')!.data;
  for (const opts of [{ batch_size: 32 }, { batch_size: 7, padding: 'max_length' as const, max_length: 32 }]) {
    const { metrics, outDir } = await evaluate({ model: fixture('a'), data: { dev: DATA }, predictions: true, ...opts });
    const m = metrics.sets.dev!;
    assert.equal(m.examples, 40);
    assert.equal(m.accuracy, want.accuracy);
    assert.deepEqual(m.confusion, want.confusion);
    assert.deepEqual(m.per_class, want.per_class);
    assert.ok(Math.abs(m.loss - want.loss) < 1e-6, `loss ${m.loss} vs ${want.loss}`);
    assert.deepEqual(metrics.labels, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
    const rows = readFileSync(join(outDir, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 40);
    rows.forEach((r, i) => {
      assert.equal(r.set, 'dev');
      assert.equal(r.index, i);
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(r.logits[k] - logits[i * 3 + k]!) < 2e-5, `row ${i} logit ${k}: ${r.logits[k]} vs ${logits[i * 3 + k]}`);
      assert.ok(Math.abs(r.loss - losses[i]!) < 2e-5, `row ${i} loss`);
      assert.equal(r.predicted, r.logits.indexOf(Math.max(...r.logits)));
    });
  }
});

test('one path is the set "data"; a pytorch_model.bin checkpoint; max_examples; the merge record is carried', async () => {
  const { metrics, outDir } = await evaluate({ model: fixture('b'), data: DATA, max_examples: 10 });
  assert.deepEqual(Object.keys(metrics.sets), ['data']);
  assert.equal(metrics.sets.data!.examples, 10);
  assert.equal(metrics.model.path, fixture('b'));
  assert.equal(metrics.model.merge, undefined);
  assert.deepEqual(stage.outputs({ model: 'm', data: DATA }), { metrics: { path: 'metrics.json', kind: 'file', metrics: true, description: stage.outputs({ model: 'm', data: DATA }).metrics!.description } });
  assert.ok(readFileSync(join(outDir, 'metrics.json'), 'utf8').endsWith('\n'));

  const merged = join(tempDir('ff-eval-'), 'merged');
  cpSync(fixture('a'), merged, { recursive: true });
  writeFileSync(join(merged, 'merge.json'), JSON.stringify({ method: 'average', weights: [0.5, 0.5] }));
  assert.deepEqual((await evaluate({ model: merged, data: DATA })).metrics.model.merge, { method: 'average', weights: [0.5, 0.5] });
});

test('bad rows and a model without a classifier are input errors naming the set, file and row', async () => {
  const dir = tempDir('ff-eval-');
  const bad = join(dir, 'bad.jsonl');
  const lines = readFileSync(DATA, 'utf8').trim().split('\n');
  lines[3] = JSON.stringify({ ...JSON.parse(lines[3]!), labels: 5 });
  writeFileSync(bad, lines.join('\n') + '\n');
  await assert.rejects(evaluate({ model: fixture('a'), data: { synthetic_dev: bad } }),
    (e: unknown) => e instanceof StageInputError && /^with\.data\.synthetic_dev: .*bad\.jsonl: row 4, column labels: expected a class id 0\.\.2, got 5$/.test((e as Error).message));

  const headless = join(dir, 'headless');
  cpSync(fixture('a'), headless, { recursive: true });
  const t = readTensors(join(headless, 'model.safetensors'));
  t.delete('classifier.weight');
  t.delete('classifier.bias');
  writeSafetensors(join(headless, 'model.safetensors'), [...t].map(([name, v]) => ({ name, ...v })));
  await assert.rejects(evaluate({ model: headless, data: DATA }),
    (e: unknown) => e instanceof StageInputError && /without a sequence-classification head \(it has no classifier\.weight, classifier\.bias\); evaluate needs a fine-tuned classifier/.test((e as Error).message));
  assert.deepEqual(stage.check!({ model: 'm', data: { 'a b': DATA } }), ['with.data.a b: set names may use letters, digits and _ . , @ + - only']);
});
