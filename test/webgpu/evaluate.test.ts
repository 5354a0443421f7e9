// The evaluate stage on the WebGPU backend (asynchronous reads only) against the same PyTorch
// fixture as on the CPU (test/evaluate): metrics exactly, logits and losses to float32 rounding.
// In CI this runs on Mesa's lavapipe (FISHERFLOW_REQUIRE_WEBGPU=1); elsewhere it is skipped with
// the reason when Dawn finds no adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import stage, { type EvaluateMetrics } from '../../stages/evaluate/stage.js';
import { makeStageContext } from '../helpers/stage-context.js';
import { webgpuSkip } from '../helpers/webgpu.js';
import { fixture, readTensors } from '../merge/fixture.js';

test('webgpu: evaluate matches PyTorch (accuracy, confusion, per-class; logits and losses to 1e-4)', { skip: webgpuSkip() }, async () => {
  const ctx = makeStageContext({ model: fixture('a'), data: { dev: fixture('data.jsonl') }, predictions: true, batch_size: 8, backend: 'webgpu' as const }, { stage: 'evaluate' });
  await stage.run(ctx);
  const metrics: EvaluateMetrics = JSON.parse(readFileSync(join(ctx.outDir, 'metrics.json'), 'utf8'));
  assert.equal(metrics.backend, 'webgpu');
  const want = JSON.parse(readFileSync(fixture('evaluate.json'), 'utf8'));
  const m = metrics.sets.dev!;
  assert.deepEqual({ accuracy: m.accuracy, confusion: m.confusion, per_class: m.per_class }, { accuracy: want.accuracy, confusion: want.confusion, per_class: want.per_class });
  assert.ok(Math.abs(m.loss - want.loss) < 1e-5, `loss ${m.loss} vs ${want.loss}`);
  const logits = readTensors(fixture('reference.safetensors')).get('evaluate.logits')!.data;
  readFileSync(join(ctx.outDir, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).forEach((r, i) => {
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(r.logits[k] - logits[i * 3 + k]!) < 1e-4, `row ${i} logit ${k}: ${r.logits[k]} vs ${logits[i * 3 + k]}`);
  });
});
