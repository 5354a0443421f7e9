// "Merged checkpoints load in PyTorch": test/fixtures/fusion/check_merged_in_torch.py loaded the
// checkpoints fisherflow's merge stage wrote into PyTorch (strict load) and compared them with
// PyTorch's own merges of the same inputs, recording the result and a digest of the tensors in
// torch-check.json. CI has no Python, so this test checks that fisherflow still writes exactly
// the tensors that were checked, and what the check found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import type { MergeInputs } from '../../stages/merge/inputs.js';
import { fixture, merge, readTensors, tensorDigest } from './fixture.js';

const models = { a: fixture('a'), b: fixture('b'), c: fixture('c') };
const INPUTS: Record<string, MergeInputs> = {
  average: { models },
  interpolation: { models: [models.a, models.b], weights: [0.7, 0.3] },
  fisher: { method: 'fisher', models, fishers: { a: fixture('fim-a.safetensors'), b: fixture('fim-b.safetensors'), c: fixture('fim-c.safetensors') } },
};

interface Check { digest: string; strict_load: boolean; metadata: Record<string, string>; tensors: number; max_abs_param_diff: number; max_abs_logit_diff: number; same_predictions: boolean }

test('the merges checked in PyTorch are the ones fisherflow writes, and PyTorch agreed with them', async () => {
  const recorded = JSON.parse(readFileSync(fixture('torch-check.json'), 'utf8')) as { checks: Record<string, Check> };
  assert.deepEqual(Object.keys(recorded.checks).sort(), Object.keys(INPUTS).sort());
  for (const [method, inputs] of Object.entries(INPUTS)) {
    const check = recorded.checks[method]!;
    const file = join(await merge(inputs), 'model.safetensors');
    assert.equal(tensorDigest(readTensors(file)), check.digest, `${method}: the tensors differ from those checked in PyTorch; rerun check_merged_in_torch.py`);
    const f = SafetensorsFile.open(file);
    assert.deepEqual(f.metadata, check.metadata);
    f.close();
    assert.equal(check.strict_load, true);
    assert.equal(check.tensors, 41);
    assert.ok(check.same_predictions, method);
    // Against float32 upstream code: roundings; against the float64 Fisher formula: identical.
    assert.ok(check.max_abs_param_diff <= 2.5e-7, `${method}: parameters within ${check.max_abs_param_diff}`);
    assert.ok(check.max_abs_logit_diff <= 1e-6, `${method}: logits within ${check.max_abs_logit_diff}`);
  }
  assert.equal(recorded.checks.fisher!.max_abs_param_diff, 0);
});
