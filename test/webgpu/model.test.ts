// The model on the WebGPU backend against the same PyTorch fixtures as the CPU backends, at the
// same tolerances: logits, loss and gradients; the Fisher (empirical, expected, true); four
// training steps. In CI this runs on Mesa's lavapipe (FISHERFLOW_REQUIRE_WEBGPU=1); elsewhere it
// is skipped with the reason when Dawn finds no adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webgpuSkip } from '../helpers/webgpu.js';
import { assertTensorsClose } from '../model/close.js';
import { checkLogitsAndGrads, fixtureFisher, assertPyTorchFisher } from '../model/pytorch-reference.js';
import { checkTorchSteps } from '../train/torch-steps-check.js';

const skip = webgpuSkip();

test('webgpu: eval-mode logits, padded-batch loss and every gradient equal PyTorch', { skip }, async () => {
  await checkLogitsAndGrads('webgpu');
});

test('webgpu: empirical Fisher (batch 4, sums and embedding squares on the device) equals the seed\'s calc_fim, bit for bit again', { skip }, async () => {
  const first = await fixtureFisher('webgpu', { fisher: 'empirical', batchSize: 4 });
  assertPyTorchFisher(first, 'empirical');
  // No atomics in the sums (ml/bert/embedding-grads.ts): a second run gives identical bytes.
  const again = await fixtureFisher('webgpu', { fisher: 'empirical', batchSize: 4 });
  for (const [name, v] of first) assert.deepEqual(again.get(name), v, name);
});

test('webgpu: expected Fisher equals Σ_c p(c|x) g_c² from PyTorch', { skip }, async () => {
  assertPyTorchFisher(await fixtureFisher('webgpu', { fisher: 'expected', batchSize: 3 }), 'expected');
});

test('webgpu: four training steps match torch AdamW + schedule + clipping', { skip }, (t) => checkTorchSteps(t, 'webgpu'));

// Last: it switches the process to wasm for the reference.
test('webgpu: fisher true (labels sampled from the model, seeded per example) equals the wasm backend\'s', { skip }, async () => {
  const run = { fisher: 'true' as const, samples: 3, seed: 11, batchSize: 4 };
  const gpu = await fixtureFisher('webgpu', run);
  const cpu = await fixtureFisher('wasm', run);
  assertTensorsClose(gpu, (n) => cpu.get(n)!, 'fisher true webgpu vs wasm');
});
