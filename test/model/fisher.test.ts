// Fisher diagonals against PyTorch (fixture made by test/fixtures/model/make_fixtures.py: the seed's
// calc_fim loop with batch_size 1, and the exact expectation over labels).
import { test } from 'node:test';
import { fixtureFisher, assertPyTorchFisher } from './pytorch-reference.js';

for (const bs of [1, 4]) {
  test(`empirical Fisher equals the seed's calc_fim in PyTorch (batch_size ${bs}: squares stay per example)`, async () => {
    assertPyTorchFisher(await fixtureFisher('wasm', { fisher: 'empirical', batchSize: bs }), 'empirical');
  });
}

test('sums kept on the device (the GPU-backend path, embedding squares included) give the same Fisher', async () => {
  assertPyTorchFisher(await fixtureFisher('wasm', { fisher: 'empirical', batchSize: 2, accumulate: 'device' }), 'empirical');
});

test('expected Fisher equals Σ_c p(c|x) g_c² from PyTorch', async () => {
  assertPyTorchFisher(await fixtureFisher('wasm', { fisher: 'expected', batchSize: 3 }), 'expected');
});

test('expected Fisher on the device path (labels from a forward pass of their own) equals PyTorch', async () => {
  assertPyTorchFisher(await fixtureFisher('wasm', { fisher: 'expected', batchSize: 3, accumulate: 'device' }), 'expected');
});
