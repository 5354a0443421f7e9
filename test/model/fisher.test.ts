// Fisher diagonals against PyTorch (fixture made by test/fixtures/model/make_fixtures.py: the seed's
// calc_fim loop with batch_size 1, and the exact expectation over labels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixtureDir } from './paths.js';
import { assertTensorsClose } from './close.js';
import { initBackend } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { readTokenizedJsonl } from '../../ml/bert/batch.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { fisherSums, type FisherType } from '../../stages/fim/fisher.js';

async function fisher(kind: FisherType, batchSize: number, dir = 'tiny-bert', extra: { samples?: number; seed?: number; accumulate?: 'host' | 'device' } = {}) {
  await initBackend('wasm');
  const rows = await readTokenizedJsonl(join(fixtureDir(), 'data.jsonl'));
  const model = await BertForSequenceClassification.fromPretrained(join(fixtureDir(), dir));
  try {
    const { sums, examples } = fisherSums(model, rows.map((row, index) => ({ index, row })), { fisher: kind, samples: extra.samples ?? 1, seed: extra.seed ?? 0, batchSize, accumulate: extra.accumulate });
    for (const a of sums.values()) for (let i = 0; i < a.length; i++) a[i] /= examples;
    return sums;
  } finally { model.dispose(); }
}

function compare(sums: Map<string, Float32Array>, kind: string): void {
  const r = SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));
  try {
    assertTensorsClose(sums, (n) => r.readFloat32(`fisher.${kind}.${n}`), `fisher.${kind}`);
  } finally { r.close(); }
}

for (const bs of [1, 4]) {
  test(`empirical Fisher equals the seed's calc_fim in PyTorch (batch_size ${bs}: squares stay per example)`, async () => {
    compare(await fisher('empirical', bs), 'empirical');
  });
}

test('sums kept on the device (the GPU-backend path) give the same Fisher', async () => {
  compare(await fisher('empirical', 2, 'tiny-bert', { accumulate: 'device' }), 'empirical');
});

test('expected Fisher equals Σ_c p(c|x) g_c² from PyTorch', async () => {
  compare(await fisher('expected', 3), 'expected');
});
