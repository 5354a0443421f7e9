// Checks of the model against the PyTorch fixtures in test/fixtures/model (made by
// make_fixtures.py there), run on a given backend: the CPU tests call them on wasm, the WebGPU
// tests (test/webgpu) on webgpu. Reads are asynchronous, as a GPU backend needs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fixtureDir } from './paths.js';
import { assertClose, assertTensorsClose, maxAbsAll } from './close.js';
import { initBackend, type BackendName } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { makeBatch, readTokenizedJsonl } from '../../ml/bert/batch.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { fisherSums, type FisherType } from '../../stages/fim/fisher.js';
import { accumulateMode } from '../../stages/fim/runner.js';

const reference = () => SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));

/** Eval-mode logits one example at a time, then a padded batch's logits, mean loss and every gradient. */
export async function checkLogitsAndGrads(backend: BackendName): Promise<void> {
  await initBackend(backend);
  const rows = await readTokenizedJsonl(join(fixtureDir(), 'data.jsonl'));
  const r = reference();
  const model = await BertForSequenceClassification.fromPretrained(join(fixtureDir(), 'tiny-bert'));
  try {
    // One example at a time, no padding (the seed's batch_size 1).
    const got: number[] = [];
    for (const row of rows) {
      const l = model.logits(makeBatch([row]));
      got.push(...await l.data());
      l.dispose();
    }
    assertClose(got, r.readFloat32('single.logits'), 'single.logits');
    // Padded batch: logits, mean loss, every gradient.
    const before = tf.memory().numTensors;
    const { loss, logits, grads } = await model.lossAndGrads(makeBatch(rows));
    assertClose(logits, r.readFloat32('batch.logits'), 'batch.logits');
    assertClose([loss], r.readFloat32('batch.loss'), 'batch.loss');
    assert.deepEqual([...grads.keys()], [...model.params.keys()], 'gradients in named_parameters order');
    const gScale = maxAbsAll([...grads.keys()].map((n) => r.readFloat32(`grad.${n}`)));
    for (const [name, g] of grads) assertClose(await g.data(), r.readFloat32(`grad.${name}`), `grad.${name}`, 1e-4, 1e-5, name.includes('key.bias') ? gScale : 0);
    for (const g of grads.values()) g.dispose();
    assert.equal(tf.memory().numTensors, before, 'lossAndGrads leaks no tensors');
  } finally { model.dispose(); r.close(); }
}

export interface FisherRun { fisher: FisherType; batchSize: number; samples?: number; seed?: number; accumulate?: 'host' | 'device' }

/** The Fisher (mean over the fixture's examples) of the tiny fixture model on `backend` (sums where the fim stage keeps them, unless `run` says). */
export async function fixtureFisher(backend: BackendName, run: FisherRun): Promise<Map<string, Float32Array>> {
  const info = await initBackend(backend);
  const rows = await readTokenizedJsonl(join(fixtureDir(), 'data.jsonl'));
  const model = await BertForSequenceClassification.fromPretrained(join(fixtureDir(), 'tiny-bert'));
  try {
    const { sums, examples } = await fisherSums(model, rows.map((row, index) => ({ index, row })), { samples: 1, seed: 0, accumulate: accumulateMode(info.backend), ...run });
    for (const a of sums.values()) for (let i = 0; i < a.length; i++) a[i] /= examples;
    return sums;
  } finally { model.dispose(); }
}

/** The Fisher against PyTorch: the seed's calc_fim loop (empirical) or Σ_c p(c|x) g_c² (expected). */
export function assertPyTorchFisher(sums: Map<string, Float32Array>, kind: 'empirical' | 'expected'): void {
  const r = reference();
  try {
    assertTensorsClose(sums, (n) => r.readFloat32(`fisher.${kind}.${n}`), `fisher.${kind}`);
  } finally { r.close(); }
}
