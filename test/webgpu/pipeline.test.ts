// A pipeline with `backend: webgpu` end to end through the CLI (stages in worker processes): train
// a tiny BERT on WebGPU, the fim stage on WebGPU and on wasm for the same fixture model (within
// 1e-4 relative), a Fisher of the trained model, and their overlap. Adapter named in logs and
// metadata. On lavapipe in CI (FISHERFLOW_REQUIRE_WEBGPU=1); skipped with the reason where Dawn
// finds no adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace, REPO_ROOT } from '../helpers/cli.js';
import { probeWebgpu, webgpuSkip } from '../helpers/webgpu.js';
import { assertTensorsClose } from '../model/close.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';

const fixture = (...p: string[]) => join(REPO_ROOT, 'test', 'fixtures', ...p);

function readFim(path: string): { tensors: Map<string, Float32Array>; meta: Record<string, string> } {
  const f = SafetensorsFile.open(path);
  try { return { tensors: new Map(f.names().map((n) => [n, f.readFloat32(n)])), meta: f.metadata }; } finally { f.close(); }
}

const PIPELINE = `
stages:
  train:
    uses: train
    with:
      data: ${fixture('train', 'tiny', 'train.jsonl')}
      eval: { dev: ${fixture('train', 'tiny', 'dev.jsonl')} }
      tokenizer: ${fixture('train', 'tiny', 'tokenizer')}
      config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 32 }
      epochs: 1
      batch_size: 16
      learning_rate: 0.01
      backend: webgpu
  fisher:
    foreach: [webgpu, wasm]
    uses: fim
    with: { model: ${fixture('model', 'tiny-bert')}, data: ${fixture('model', 'data.jsonl')}, batch_size: 3, workers: 0, backend: "\${{ item }}" }
  fisher_trained:
    uses: fim
    with: { model: "\${{ stages.train.outputs.model }}", data: ${fixture('train', 'tiny', 'dev.jsonl')}, fisher: expected, batch_size: 8, backend: webgpu }
  overlap:
    uses: overlap
    with:
      fishers: { webgpu: "\${{ stages.fisher[webgpu].outputs.fim }}", wasm: "\${{ stages.fisher[wasm].outputs.fim }}", trained: "\${{ stages.fisher_trained.outputs.fim }}" }
      pairs: [{ a: webgpu, b: wasm }]
`;

test('a pipeline with backend: webgpu: train, fim (equal to wasm within 1e-4), overlap; adapter in logs and metadata', { skip: webgpuSkip(), timeout: 600_000 }, () => {
  const adapter = probeWebgpu().adapter ?? 'no adapter';
  const ws = workspace({});
  writeFileSync(join(ws, 'fisherflow.yaml'), PIPELINE);
  const run = cli(['run'], { cwd: ws });
  assert.equal(run.code, 0, run.stderr + run.stdout);
  const show = (ref: string) => cli(['show', ref], { cwd: ws }).stdout.trim();

  const gpu = readFim(show('fisher@webgpu.fim'));
  const cpu = readFim(show('fisher@wasm.fim'));
  assertTensorsClose(gpu.tensors, (n) => cpu.tensors.get(n)!, 'fim webgpu vs wasm', 1e-4);
  assert.equal(gpu.meta.backend, 'webgpu');
  assert.equal(gpu.meta.adapter, adapter);
  assert.equal(cpu.meta.backend, 'wasm');
  const log = cli(['logs', 'fisher@webgpu'], { cwd: ws }).stdout;
  assert.ok(log.includes(`backend webgpu:`) && log.includes(adapter), log);

  const trained = SafetensorsFile.open(join(show('train.model'), 'model.safetensors'));
  try {
    assert.equal(trained.metadata.backend, 'webgpu');
    assert.equal(trained.metadata.adapter, adapter);
    assert.equal(trained.metadata.format, 'pt');
  } finally { trained.close(); }
  const metrics = JSON.parse(readFileSync(join(show('train.metrics')), 'utf8'));
  assert.ok(Number.isFinite(metrics.final.dev.loss), JSON.stringify(metrics.final));
  assert.ok(cli(['logs', 'train'], { cwd: ws }).stdout.includes(adapter));
  const fromTrained = readFim(show('fisher_trained.fim'));
  assert.equal(fromTrained.meta.examples, '32');
  assert.ok([...fromTrained.tensors.values()].every((a) => a.every(Number.isFinite)));

  const overlap = JSON.parse(readFileSync(show('overlap.overlap'), 'utf8'));
  const pair = overlap.pairs?.[0] ?? overlap;
  assert.ok(pair.overlap > 0.9999, JSON.stringify(pair));
});
