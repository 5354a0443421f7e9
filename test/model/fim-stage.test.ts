// The fim stage end to end on the tiny fixture checkpoint (see test/fixtures/model/make_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { fixtureDir } from './paths.js';
import { assertClose, assertTensorsClose } from './close.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { StageInputError } from '../../src/stage/api.js';
import fim, { type FimInputs } from '../../stages/fim/stage.js';

const data = () => join(fixtureDir(), 'data.jsonl');
const model = () => join(fixtureDir(), 'tiny-bert');

function readAll(path: string): { tensors: Map<string, Float32Array>; meta: Record<string, string> } {
  const f = SafetensorsFile.open(path);
  try { return { tensors: new Map(f.names().map((n) => [n, f.readFloat32(n)])), meta: f.metadata }; } finally { f.close(); }
}

/** The seed's calc_fim in PyTorch on the fixture (test/fixtures/model/make_fixtures.py). */
function assertEqualsPytorchEmpirical(tensors: Map<string, Float32Array>): void {
  const ref = SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));
  try {
    assertTensorsClose(tensors, (n) => ref.readFloat32(`fisher.empirical.${n}`), 'fisher');
  } finally { ref.close(); }
}

test('fim stage: two worker threads, batch 3, equals PyTorch calc_fim; metadata, progress, chunks', async () => {
  const ctx = makeStageContext<FimInputs>({ model: model(), data: data(), batch_size: 3, workers: 2, chunks: 2, backend: 'wasm' });
  await fim.run(ctx);
  const { tensors, meta } = readAll(join(ctx.outDir, 'fim.safetensors'));
  assertEqualsPytorchEmpirical(tensors);
  assert.equal(meta.fisher, 'empirical');
  assert.equal(meta.examples, '6');
  assert.equal(meta.backend, 'wasm');
  assert.equal(meta.workers, '2');
  assert.match(meta.model_sha256, /^[0-9a-f]{64}$/);
  assert.match(meta.data_sha256, /^[0-9a-f]{64}$/);
  const last = ctx.progressEvents.at(-1)!;
  assert.deepEqual([last.done, last.total], [6, 6]);
  assert.ok(ctx.progressEvents.length >= 3, 'progress per batch');
  assert.ok(ctx.logs.some((l) => l.includes('wasm')), 'backend in the log');
  // Chunks: the example-weighted mean of the chunk Fishers is the Fisher.
  const files = readdirSync(join(ctx.outDir, 'chunks')).sort();
  assert.deepEqual(files, ['chunk-000.safetensors', 'chunk-001.safetensors']);
  const c = files.map((f) => readAll(join(ctx.outDir, 'chunks', f)));
  const name = 'bert.encoder.layer.1.output.dense.weight';
  const mean = c[0].tensors.get(name)!.map((v, i) => (v * 3 + c[1].tensors.get(name)![i] * 3) / 6);
  assertClose(mean, tensors.get(name)!, 'chunk mean', 1e-5, 1e-7);
});

test('fim stage: pytorch_model.bin and model.safetensors give identical Fishers (in-process)', async () => {
  const binOnly = join(tempDir(), 'bin-only');
  cpSync(model(), binOnly, { recursive: true });
  const { rmSync } = await import('node:fs');
  rmSync(join(binOnly, 'model.safetensors'));
  const a = makeStageContext<FimInputs>({ model: model(), data: data(), workers: 0, backend: 'wasm' });
  const b = makeStageContext<FimInputs>({ model: binOnly, data: data(), workers: 0, backend: 'wasm' });
  await fim.run(a);
  await fim.run(b);
  const fa = readAll(join(a.outDir, 'fim.safetensors')).tensors;
  const fb = readAll(join(b.outDir, 'fim.safetensors')).tensors;
  for (const [n, v] of fa) assert.deepEqual(fb.get(n), v, n);
});

test('fim stage: fisher true is seeded per example and independent of batch size and threads', async () => {
  const run = async (extra: Partial<FimInputs>) => {
    const ctx = makeStageContext<FimInputs>({ model: model(), data: data(), fisher: 'true', samples: 3, seed: 11, backend: 'wasm', workers: 0, ...extra });
    await fim.run(ctx);
    return readAll(join(ctx.outDir, 'fim.safetensors'));
  };
  const a = await run({ batch_size: 1 });
  const b = await run({ batch_size: 4, workers: 2 });
  assert.equal(a.meta.samples, '3');
  assertTensorsClose(b.tensors, (n) => a.tensors.get(n)!, 'fisher true', 1e-5, 1e-6);
});

test('fim stage: clear errors for a missing checkpoint, bad data and out-of-vocabulary tokens', async () => {
  const bad = join(tempDir(), 'data.jsonl');
  writeFileSync(bad, '{"input_ids":[98,5,99],"labels":1}\n{"input_ids":"oops"}\n');
  await assert.rejects(fim.run(makeStageContext<FimInputs>({ model: join(tempDir(), 'nope'), data: data(), workers: 0 })), (e: Error) => e instanceof StageInputError && /does not exist/.test(e.message));
  await assert.rejects(fim.run(makeStageContext<FimInputs>({ model: model(), data: bad, workers: 0 })), (e: Error) => e instanceof StageInputError && /:2: column input_ids/.test(e.message));
  writeFileSync(bad, '{"input_ids":[98,5,99],"labels":1}\n{"input_ids":[98,500,99],"labels":0}\n');
  await assert.rejects(fim.run(makeStageContext<FimInputs>({ model: model(), data: bad, workers: 0 })), (e: Error) => e instanceof StageInputError && /token id 500/.test(e.message));
  writeFileSync(bad, '{"input_ids":[98,5,99]}\n');
  await assert.rejects(fim.run(makeStageContext<FimInputs>({ model: model(), data: bad, workers: 0 })), (e: Error) => e instanceof StageInputError && /row 1: fisher: empirical needs a label/.test(e.message));
  assert.ok(existsSync(model()));
});

test('fim stage: a NaN in the forward or backward pass stops the stage naming the example', async () => {
  const dir = join(tempDir(), 'nan-model');
  cpSync(model(), dir, { recursive: true });
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'pytorch_model.bin'));
  const f = SafetensorsFile.open(join(dir, 'model.safetensors'));
  const tensors = f.names().map((name) => ({ name, shape: f.info(name).shape, data: f.readFloat32(name) }));
  f.close();
  // Token 68 occurs only in data row 3.
  const word = tensors.find((t) => t.name === 'bert.embeddings.word_embeddings.weight')!;
  word.data.fill(NaN, 68 * 32, 69 * 32);
  const { writeSafetensors } = await import('../../ml/safetensors/format.js');
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  for (const workers of [0, 2]) {
    await assert.rejects(fim.run(makeStageContext<FimInputs>({ model: dir, data: data(), workers, batch_size: 2 })),
      (e: Error) => e instanceof StageInputError && /data row 3\b/.test(e.message), `workers ${workers}`);
  }
});

test('fim stage on the pure-JS cpu backend (one worker thread) equals PyTorch too', async () => {
  const ctx = makeStageContext<FimInputs>({ model: model(), data: data(), backend: 'cpu', workers: 1, batch_size: 4 });
  await fim.run(ctx);
  const { tensors, meta } = readAll(join(ctx.outDir, 'fim.safetensors'));
  assert.equal(meta.backend, 'cpu');
  const ref = SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));
  try { assertTensorsClose(tensors, (n) => ref.readFloat32(`fisher.empirical.${n}`), 'fisher (cpu)'); } finally { ref.close(); }
});

test('fim stage with the native BLAS (when available): one model in this thread, `threads` honoured, named in the metadata', async (t) => {
  const { loadNativeBlas, nativeBlasUnavailable } = await import('../../ml/bert/native-blas.js');
  if (!loadNativeBlas()) { t.skip(`no native BLAS: ${nativeBlasUnavailable}`); return; }
  const ctx = makeStageContext<FimInputs>({ model: model(), data: data(), batch_size: 4, threads: 1, backend: 'auto' });
  await fim.run(ctx);
  const { tensors, meta } = readAll(join(ctx.outDir, 'fim.safetensors'));
  assertEqualsPytorchEmpirical(tensors);
  assert.equal(meta.backend, 'wasm');
  assert.equal(meta.workers, '0', 'default: no worker threads with a native BLAS');
  assert.match(meta.blas, /, 1 thread$/);
  assert.match(meta.device, /for matrix products/);
  assert.ok(ctx.logs.some((l) => l.includes('for matrix products')), 'BLAS in the log');
});
